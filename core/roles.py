"""Roles are Django groups (created by a migration): viewer reads, operator pushes/checks/rotates, admin edits.
Each role includes the ones below it; superusers are admins."""

from typing import Any

from django.db.models import Exists, OuterRef

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
    return remember_role(user, set(user.groups.values_list("name", flat=True)))


def role_lookups() -> dict[str, Exists]:
    """``role_<name>``: whether the user (``OuterRef("pk")``) is in that role's group, to be asked in a query that
    reads other facts about the user at the same time (one round trip); hand the answers to
    :func:`remember_role`."""
    from django.contrib.auth.models import Group

    return {f"role_{r}": Exists(Group.objects.filter(user=OuterRef("pk"), name=r)) for r in ROLES}


def remember_role(user: Any, held: set[str]) -> str | None:
    """Cache the role that the group names ``held`` give ``user`` on the user object, for the request."""
    role: str | None
    if getattr(user, "is_superuser", False):
        role = ADMIN
    else:
        roles = [r for r in ROLES if r in held]
        role = max(roles, key=_RANK.__getitem__) if roles else None
    user._feedkeeper_role = role
    return role


def has_role(user: Any, role: str) -> bool:
    """True when the user's role is ``role`` or higher."""
    held = role_of(user)
    return held is not None and _RANK[held] >= _RANK[role]
