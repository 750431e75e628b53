"""Roles are Django groups (created by a migration): viewer reads, operator pushes/checks/rotates, admin edits.
Each role includes the ones below it; superusers are admins."""

from typing import Any

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
_RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}


def role_of(user: Any) -> str | None:
    """The highest role the user holds, or None. Cached on the user object for the request."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    cached = getattr(user, "_feedkeeper_role", False)
    if cached is not False:
        return str(cached) if cached else None
    role: str | None
    if getattr(user, "is_superuser", False):
        role = ADMIN
    else:
        names = set(user.groups.values_list("name", flat=True))
        held = [r for r in ROLES if r in names]
        role = max(held, key=_RANK.__getitem__) if held else None
    user._feedkeeper_role = role
    return role


def has_role(user: Any, role: str) -> bool:
    """True when the user's role is ``role`` or higher."""
    held = role_of(user)
    return held is not None and _RANK[held] >= _RANK[role]
