"""Single sign-on with OpenID Connect (mozilla-django-oidc, authorization code with PKCE): the company's identity
provider signs people in, and a claim (``OIDC_ROLE_CLAIM``, ``groups`` by default) maps to a Feedkeeper role
(``OIDC_ROLE_MAP``). Off until ``OIDC_RP_CLIENT_ID`` is set.

What this adds to the library: the ID token's issuer and audience are checked (the library checks the signature,
expiry and nonce only); a person is their identity provider's (issuer, subject), never a username or e-mail that
happens to match (an identity provider cannot take over a local account); someone without a mapped role is not
let in; the role follows the claim at every sign-in; and a single-sign-on session is not asked for Feedkeeper's
second factor (the identity provider owns that)."""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import Group, User
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponseBase
from django.utils.decorators import method_decorator
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from accounts.models import OidcIdentity
from audit.services import audit_record
from core.roles import ROLES

log = logging.getLogger(__name__)

SSO_SESSION = "accounts.sso"


def enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


def role_map() -> dict[str, str]:
    """``OIDC_ROLE_MAP`` (``"idp-group=role,..."`` or a dict) as {claim value: role}; unknown roles are dropped."""
    raw = settings.OIDC_ROLE_MAP
    pairs = raw.items() if isinstance(raw, dict) else (p.partition("=")[::2] for p in str(raw).split(",") if p)
    return {str(k).strip(): str(v).strip() for k, v in pairs if str(v).strip() in ROLES}


def role_from(claims: dict[str, Any]) -> str | None:
    """The highest role the claim maps to, or None."""
    value = claims.get(settings.OIDC_ROLE_CLAIM)
    values = value if isinstance(value, list) else [value] if value else []
    mapped = {role_map().get(str(v)) for v in values} - {None}
    return max(mapped, key=ROLES.index) if mapped else None  # type: ignore[arg-type]


class OIDCBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    def authenticate(self, request: Any, **kwargs: Any) -> User | None:
        if not enabled() or request is None:
            return None
        try:
            user = super().authenticate(request, **kwargs)
        except (SuspiciousOperation, requests.RequestException) as exc:
            # A token that fails a check, or a provider that cannot be reached: no entry, and a clear trace.
            log.warning("Single sign-on refused: %s", type(exc).__name__)
            audit_record(
                actor="anonymous",
                action="login_failed",
                object_type="user",
                outcome="failure",
                detail={"via": "oidc", "reason": str(exc)[:200]},
            )
            return None
        if user is not None:
            request.session[SSO_SESSION] = True
        return user  # type: ignore[no-any-return]

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        payload: dict[str, Any] = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token is for another client.")
        if settings.OIDC_OP_ISSUER and payload.get("iss") != settings.OIDC_OP_ISSUER:
            raise SuspiciousOperation("The ID token comes from another issuer.")
        self._subject = str(payload.get("sub") or "")
        return payload

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        if not claims.get("sub") or claims.get("sub") != getattr(self, "_subject", None):
            return False
        if role_from(claims) is None:
            audit_record(
                actor=str(claims.get("preferred_username") or claims.get("email") or claims.get("sub"))[:150],
                action="login_failed",
                object_type="user",
                outcome="failure",
                detail={"via": "oidc", "reason": "no role maps from the identity provider's claim"},
            )
            return False
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return User.objects.filter(
            oidc_identities__issuer=settings.OIDC_OP_ISSUER, oidc_identities__subject=claims["sub"]
        )

    @transaction.atomic
    def create_user(self, claims: dict[str, Any]) -> User:
        base = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])[:140]
        username, n = base, 1
        while User.objects.filter(username__iexact=username).exists():
            n += 1
            username = f"{base}-{n}"  # a local account of that name stays that person's
        user = User.objects.create_user(username=username, email=str(claims.get("email") or ""))
        user.set_unusable_password()
        user.save(update_fields=["password"])
        OidcIdentity.objects.create(user=user, issuer=settings.OIDC_OP_ISSUER, subject=claims["sub"])
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        """The role follows the identity provider at every sign-in."""
        role = role_from(claims)
        current = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        if role is not None and current != {role}:
            user.groups.remove(*Group.objects.filter(name__in=current - {role}))
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user


def _only_when_enabled(request: HttpRequest) -> None:
    if not enabled():
        raise Http404("Single sign-on is not configured.")


@method_decorator(login_not_required, name="dispatch")
class StartView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        _only_when_enabled(request)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]


@method_decorator(login_not_required, name="dispatch")
class CallbackView(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        _only_when_enabled(request)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]

    def login_failure(self) -> HttpResponseBase:
        messages.error(self.request, "Single sign-on did not let you in: ask an administrator for a role.")
        return super().login_failure()  # type: ignore[no-any-return]
