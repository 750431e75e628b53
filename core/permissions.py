"""Role checks for views: a mixin for class-based views. A wrong role gets 403."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from core.roles import VIEWER, has_role


class RoleRequiredMixin:
    """Refuse with 403 unless the user holds ``required_role`` (login is enforced by middleware)."""

    required_role: str = VIEWER

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not has_role(request.user, self.required_role):
            raise PermissionDenied(f"This needs the {self.required_role} role.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,no-any-return]
