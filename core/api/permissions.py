"""Role permission for the API: reads need viewer; work (check, push, rotate, retry) needs operator;
create, update and delete need admin. A view may map its own actions in ``action_roles``."""

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

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


class RolePermission(permissions.BasePermission):
    """Authenticated, and holding the role the action needs."""

    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        return has_role(request.user, required_role(view, request))
