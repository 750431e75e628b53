"""``Authorization: Bearer <token>`` authentication against hashed :class:`core.models.ApiToken` rows."""

from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.models import ApiToken, hash_token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates API calls; a missing, bad, revoked or expired token gives 401 with
    ``WWW-Authenticate: Bearer``. ``request.auth`` is the :class:`ApiToken` (its ``scope`` is enforced by
    :class:`core.api.permissions.RolePermission`)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(parts[1])).first()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed("This API token has expired; issue a new one.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
