"""Role permission for the API: reads need viewer; work (check, push, rotate, retry) needs operator;
create, update and delete need admin. A view may map its own actions in ``action_roles``."""

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from core.models import ApiToken
from core.roles import ADMIN, OPERATOR, VIEWER, has_role

OPERATOR_ACTIONS = frozenset({"check", "push", "rotate", "retry", "push_all", "refresh"})


def required_role(view: Any, request: Request) -> str:
    action = getattr(view, "action", None)
    mapped = getattr(view, "action_roles", {}).get(action)
    if mapped:
        return str(mapped)
    if action in OPERATOR_ACTIONS:
        return OPERATOR
    if request.method in permissions.SAFE_METHODS:
        return VIEWER
    return ADMIN


def read_only_token(request: Request) -> bool:
    """True when the request authenticated with a read-only API token."""
    return isinstance(request.auth, ApiToken) and request.auth.read_only


class RolePermission(permissions.BasePermission):
    """Authenticated, and holding the role the action needs; a read-only token may only read."""

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        role = required_role(view, request)
        if read_only_token(request) and (role != VIEWER or request.method not in permissions.SAFE_METHODS):
            self.message = "This API token is read-only."
            return False
        return has_role(request.user, role)
