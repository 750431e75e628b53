from typing import Any

from django.conf import settings
from django.http import HttpRequest


def sso(request: HttpRequest) -> dict[str, Any]:
    """``sso_name``: the identity provider's name on the login page's button, when single sign-on is on."""
    return {"sso_name": settings.OIDC_PROVIDER_NAME if settings.OIDC_RP_CLIENT_ID else ""}
