"""Template context: the user's role, for showing only the actions they may take."""

from django.http import HttpRequest

from core.roles import ADMIN, OPERATOR, VIEWER, has_role, role_of


def roles(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        "user_role": role_of(user),
        "can_view": has_role(user, VIEWER),
        "can_operate": has_role(user, OPERATOR),
        "can_admin": has_role(user, ADMIN),
    }
