"""Azure DevOps: mint and revoke PATs with the PAT Lifecycle Management API (docs/platforms.md §3).

Microsoft allows that API only with a delegated Microsoft Entra user token ("Manage personal access tokens using
REST API", Microsoft Learn): no PAT, no service principal, no client-credentials token. So an admin connects once
in the browser ("Connect": the authorization-code flow with PKCE, run by msal) and Feedkeeper keeps the refresh
token, encrypted, and redeems it for a one-hour access token whenever it needs one. When Entra stops accepting it
(consent withdrawn, the user disabled, the token expired) the connection shows ``needs_consent``.

- Mint: ``POST {organization}/_apis/tokens/pats?api-version=7.1-preview.1`` with ``displayName`` (naming Feedkeeper,
  the feed and the rotation), ``scope=vso.packaging`` (Packaging: read), ``validTo`` and ``allOrgs: false``
  (global PATs are retired); the answer's ``patTokenError`` is ``none`` on success.
- Revoke: ``DELETE …/pats?authorizationId=…``. A pasted PAT cannot be revoked by value: the admin does it.
- Azure DevOps answers a refused credential with HTTP 203 and a sign-in page rather than 401 (REST API
  specifications, issues 97 and 574): treated as "the Entra token was not accepted".
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
import msal
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import http
from core.vendor import VendorClient, first_line
from feeds.providers.base import CheckOutcome, ConnectionField, Minted, Provider, ProviderError

if TYPE_CHECKING:
    from feeds.models import Feed

API_VERSION = "7.1-preview.1"
# Azure DevOps as an Entra resource; `.default` asks for the permissions the app registration was granted.
DEVOPS_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"
FEED_SCOPE = "vso.packaging"
MAX_LIFETIME = timedelta(days=365)
# patTokenError values (SessionTokenError in the "Tokens" REST API specification, 7.1) worded for an admin.
PAT_ERRORS = {
    "invalidScope": "Azure DevOps refused the scope vso.packaging.",
    "invalidValidTo": "Azure DevOps refused the expiry date (at most a year ahead).",
    "authorizationNotFound": "Azure DevOps does not know this token.",
    "tokenNotFound": "Azure DevOps does not know this token.",
    "patLifespanPolicyViolation": "The organization's policy caps PAT lifetimes: lower the feed's token lifetime.",
    "globalPatPolicyViolation": "The organization's policy refuses global PATs.",
    "fullScopePatPolicyViolation": "The organization's policy refuses full-scoped PATs.",
    "invalidDisplayName": "Azure DevOps refused the token's name.",
    "invalidAuthorizationId": "Azure DevOps does not know this token.",
    "invalidTargetAccounts": "Azure DevOps refused the organization the token is for.",
    "accessDenied": "The connected user may not create PATs in this organization.",
}


class ConsentRequired(ProviderError):
    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True, needs_consent=True)


class PatClient(VendorClient):
    vendor = "Azure DevOps"
    error_class: ClassVar[type[ProviderError]] = ProviderError
    retry = http.RetryPolicy(attempts=3, methods=frozenset({"GET", "DELETE"}))
    # 203 is a sign-in page, not a success.
    ok_below = 203

    def __init__(self, *, url: str, access_token: str) -> None:
        super().__init__(url=url, secrets=[access_token])
        self._token = access_token

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def raise_for_response(self, response: httpx.Response, where: str = "") -> None:
        if response.status_code < 203:
            return
        if response.status_code == 203 or "text/html" in response.headers.get("content-type", ""):
            raise ConsentRequired(
                "Azure DevOps answered with a sign-in page: it did not accept the connected user's Entra token. "
                "Connect again."
            )
        message = first_line(response)
        try:
            message = str(response.json().get("message") or message)
        except (ValueError, AttributeError):
            pass
        raise self.status_error(response, where, message=message)

    def pats(self, method: str, *, params: dict[str, str] | None = None, json: Any = None) -> Any:
        return self.fetch(
            method,
            f"{self.url}/_apis/tokens/pats",
            where="tokens/pats",
            params={"api-version": API_VERSION, **(params or {})},
            json=json,
        )


def _entra_session() -> http.MsalHttpClient:
    """msal's HTTP client: the one HTTP seam, so Entra gets ``CA_BUNDLE`` (nothing from the environment), the
    connect-time address check, the timeouts and redaction like every other outgoing request."""
    return http.MsalHttpClient()


def msal_app(connection: Any) -> msal.ConfidentialClientApplication:
    """The Entra application of ``connection`` (its authority is ``AZURE_ENTRA_URL``/tenant). Instance discovery
    is off: msal would otherwise ask login.microsoftonline.com about any other authority host."""
    return msal.ConfidentialClientApplication(
        connection.client_id,
        client_credential=connection.reveal("client_secret"),
        authority=f"{settings.AZURE_ENTRA_URL.rstrip('/')}/{connection.tenant_id}",
        instance_discovery=False,
        http_client=_entra_session(),
        timeout=settings.HTTP_READ_TIMEOUT,
    )


def _entra_error(result: dict[str, Any]) -> ProviderError:
    error = str(result.get("error") or "error")
    description = str(result.get("error_description") or "").splitlines()[0][:300] if result else ""
    if error in ("invalid_grant", "interaction_required", "consent_required", "login_required"):
        return ConsentRequired(f"Entra no longer accepts the stored authorization ({error}): {description}")
    if error in ("invalid_client", "unauthorized_client"):
        return ProviderError(f"Entra refused the application's credentials ({error}): {description}", permanent=True)
    return ProviderError(f"Entra answered {error}: {description}", permanent=False)


class AzureDevOpsProvider(Provider):
    key = "azure_devops"
    label = "Azure DevOps PATs"
    feed_kinds = ("azure_devops",)
    fields = (
        ConnectionField("tenant_id", "Tenant id", help="The Microsoft Entra tenant (directory) id."),
        ConnectionField("client_id", "Client id", help="The Entra application's id."),
        ConnectionField("client_secret", "Client secret", secret=True, help="The Entra application's secret."),
    )
    url_help = "https://vssps.dev.azure.com/<organization>: the organization whose feeds get the PATs."
    needs_browser_consent = True

    # --- the browser flow ---------------------------------------------------------------------------------
    def begin_consent(self, redirect_uri: str) -> dict[str, Any]:
        """The msal flow (keep it in the session); its ``auth_uri`` is where the admin's browser goes."""
        flow: dict[str, Any] = msal_app(self.connection).initiate_auth_code_flow(
            [DEVOPS_SCOPE], redirect_uri=redirect_uri
        )
        return flow

    def complete_consent(self, flow: dict[str, Any], answer: dict[str, str]) -> tuple[str, str]:
        """Redeem the code Entra sent back: ``(refresh_token, user)``. Raises :class:`ProviderError`."""
        try:
            result = msal_app(self.connection).acquire_token_by_auth_code_flow(flow, answer)
        except ValueError as exc:  # state mismatch and the like: msal raises instead of answering
            raise ProviderError(
                f"The answer from Entra does not match this connection's request ({exc}).", permanent=True
            ) from None
        if "error" in result or not result.get("refresh_token"):
            raise _entra_error(result)
        claims = result.get("id_token_claims") or {}
        user = str(claims.get("preferred_username") or claims.get("upn") or claims.get("name") or "")
        return str(result["refresh_token"]), user

    # --- tokens -------------------------------------------------------------------------------------------
    def access_token(self) -> str:
        """A fresh Entra access token from the stored refresh token (stores the refresh token Entra returns)."""
        refresh = self.connection.reveal("refresh_token")
        if not refresh:
            raise ConsentRequired("Nobody has connected this connection yet: an admin must click Connect.")
        result = msal_app(self.connection).acquire_token_by_refresh_token(refresh, scopes=[DEVOPS_SCOPE])
        if "error" in result or not result.get("access_token"):
            raise _entra_error(result)
        new_refresh = result.get("refresh_token")
        if new_refresh and new_refresh != refresh:
            self.connection.set_secret("refresh_token", new_refresh)
            type(self.connection).objects.filter(pk=self.connection.pk).update(
                refresh_token=self.connection.refresh_token
            )
        return str(result["access_token"])

    def client(self) -> PatClient:
        return PatClient(url=self.connection.url, access_token=self.access_token())

    def check(self) -> CheckOutcome:
        try:
            self.client().pats("GET", params={"displayFilterOption": "active"})
        except ConsentRequired as exc:
            return CheckOutcome("needs_consent", str(exc))
        except ProviderError as exc:
            return CheckOutcome("failing", str(exc))
        return CheckOutcome("ok", "Entra renews the authorization and Azure DevOps lists the connected user's PATs.")

    def mint(self, feed: Feed, *, lifetime: timedelta, description: str) -> Minted:
        valid_to = timezone.now() + min(lifetime, MAX_LIFETIME)
        api = self.client()
        body = api.pats(
            "POST",
            json={
                "displayName": description,
                "scope": FEED_SCOPE,
                "validTo": valid_to.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "allOrgs": False,
            },
        )
        error = str(body.get("patTokenError") or "none")
        if error != "none":
            raise ProviderError(PAT_ERRORS.get(error, f"Azure DevOps refused the PAT ({error})."), permanent=True)
        pat = body.get("patToken") or {}
        token, token_id = str(pat.get("token") or ""), str(pat.get("authorizationId") or "")
        if not token or not token_id:
            raise ProviderError("Azure DevOps answered without the PAT or its id.", permanent=False)
        expires = parse_datetime(str(pat.get("validTo") or "")) or valid_to
        if timezone.is_naive(expires):
            expires = timezone.make_aware(expires, UTC)
        return Minted(token=token, token_id=token_id, expires_at=expires)

    def revoke(self, *, token_id: str = "", token: str = "") -> str:
        if not token_id:
            raise ProviderError(
                "Azure DevOps cannot revoke a PAT by its value: revoke the pasted PAT in Azure DevOps yourself.",
                permanent=True,
            )
        api = self.client()
        response = api.send(
            "DELETE",
            f"{api.url}/_apis/tokens/pats",
            headers=api.auth_headers(),
            params={"api-version": API_VERSION, "authorizationId": token_id},
        )
        if response.status_code in (200, 204):
            return "Revoked in Azure DevOps."
        if response.status_code == 404:
            return "Azure DevOps no longer knows this PAT (already revoked)."
        api.raise_for_response(response, "tokens/pats")
        return "Revoked in Azure DevOps."

    def find_minted(self, description: str) -> list[str]:
        api = self.client()
        found: list[str] = []
        params: dict[str, str] = {"displayFilterOption": "active"}
        for _ in range(50):
            body = api.pats("GET", params=params)
            for pat in body.get("patTokens") or []:
                if pat.get("displayName") == description and pat.get("authorizationId"):
                    found.append(str(pat["authorizationId"]))
            token = body.get("continuationToken")
            if not token:
                break
            params = {"displayFilterOption": "active", "continuationToken": str(token)}
        return found
