"""The simulated Microsoft Entra ID (v2.0 endpoints) on its own https port.

Sources (Microsoft Learn, "Microsoft identity platform and OAuth 2.0 authorization code flow", "Refresh tokens in the
Microsoft identity platform", "Microsoft Entra authentication and authorization error codes", "OpenID Connect on the
Microsoft identity platform", "Microsoft identity platform application authentication certificate credentials")
and msal's own source (``oauth2cli/oauth2.py``, ``oauth2cli/oidc.py``, ``authority.py``, ``token_cache.py``):

``GET  /{tenant}/v2.0/.well-known/openid-configuration``  discovery document (msal reads it at construction)
``GET  /{tenant}/discovery/v2.0/keys``                      the JWKS of the key that signs every token
``GET|POST /{tenant}/oauth2/v2.0/authorize``                plays a signed-in user who consents (or an error)
``POST /{tenant}/oauth2/v2.0/token``                        ``authorization_code``, ``refresh_token``,
                                                            ``client_credentials``

``{tenant}`` is the tenant id, the tenant's domain, ``organizations`` or ``common``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from .crypto import JWTError, b64url, verify_client_assertion
from .state import (
    ADO_DELEGATED_SCOPE,
    ADO_RESOURCE,
    ADO_RESOURCE_ALIASES,
    GRAPH_RESOURCE,
    GRAPH_RESOURCE_ALIASES,
    OIDC_SCOPES,
    App,
    AuthCode,
    RefreshToken,
    User,
)
from .wire import Reply, Request

if TYPE_CHECKING:
    from .server import AzureDevOpsSimulator

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AUTHORIZE_OUTCOMES = ("consent", "access_denied", "consent_required", "interaction_required", "login_required")
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


class StsError(Exception):
    """A token-endpoint error, rendered like Entra renders them (RFC 6749 section 5.2 plus ``error_codes``,
    ``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``). ``invalid_client`` answers 401, the rest 400."""

    def __init__(self, error: str, code: int, description: str, suberror: str | None = None) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.error = error
        self.code = code
        self.description = description
        self.suberror = suberror


class AuthorizeError(Exception):
    """An authorize-endpoint error sent back to the client's redirect URI."""

    def __init__(self, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.code = code
        self.description = description


def _vss_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def sts_error_reply(sim: AzureDevOpsSimulator, exc: StsError) -> Reply:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = sim.state.now().strftime("%Y-%m-%d %H:%M:%SZ")
    body: dict[str, Any] = {
        "error": exc.error,
        "error_description": (
            f"AADSTS{exc.code}: {exc.description} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}"
        ),
        "error_codes": [exc.code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"{sim.entra_url}/error?code={exc.code}",
    }
    if exc.suberror:
        body["suberror"] = exc.suberror
    status = 401 if exc.error == "invalid_client" else 400
    return Reply.json(status, body, headers=_no_store(trace))


def _no_store(trace: str) -> list[tuple[str, str]]:
    return [
        ("Cache-Control", "no-store, no-cache"),
        ("Pragma", "no-cache"),
        ("x-ms-request-id", trace),
        ("x-ms-ests-server", "2.1.simulated - SIM ProdSlices"),
    ]


def _error_page(sim: AzureDevOpsSimulator, code: int, text: str, status: int = 400) -> Reply:
    """The sign-in page's error screen: shown when Entra can't trust the redirect URI (nothing is redirected)."""
    trace = str(uuid.uuid4())
    page = (
        "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>"
        "<h1>Sorry, but we\u2019re having trouble signing you in.</h1>"
        f'<p id="error">AADSTS{code}: {html.escape(text)}</p>'
        f"<p>Request Id: {trace}</p><p>Timestamp: {sim.state.now().strftime('%Y-%m-%dT%H:%M:%SZ')}</p>"
        "</body></html>"
    )
    return Reply.html(status, page, headers=_no_store(trace))


# ---- routing -------------------------------------------------------------------------------------------------------


def handle(sim: AzureDevOpsSimulator, req: Request) -> Reply:
    parts = [p for p in req.path.split("/") if p]
    if not parts:
        return Reply.json(404, {"error": "not_found"})
    tenant_segment, rest = parts[0], "/".join(parts[1:]).lower()
    if rest not in (
        "v2.0/.well-known/openid-configuration",
        "discovery/v2.0/keys",
        "oauth2/v2.0/authorize",
        "oauth2/v2.0/token",
    ):
        return Reply.json(404, {"error": "not_found", "error_description": f"No such endpoint: {req.path}"})
    if not _known_tenant(sim, tenant_segment):
        if rest == "oauth2/v2.0/authorize":
            return _error_page(
                sim,
                90002,
                f"Tenant '{tenant_segment}' not found. Check to make sure you have the "
                "correct tenant ID and are signing into the correct cloud.",
            )
        return sts_error_reply(
            sim,
            StsError(
                "invalid_tenant",
                90002,
                f"Tenant '{tenant_segment}' not found. Check to make sure you have the correct tenant ID and are "
                "signing into the correct cloud. Check with your subscription administrator, this may happen if "
                "there are no active subscriptions for the tenant.",
            ),
        )
    if rest == "v2.0/.well-known/openid-configuration":
        return Reply.json(200, openid_configuration(sim, tenant_segment))
    if rest == "discovery/v2.0/keys":
        return Reply.json(200, {"keys": [sim.signing_key.jwk()]})
    if rest == "oauth2/v2.0/authorize":
        if req.method not in ("GET", "POST"):
            return _error_page(
                sim, 900561, f"The endpoint only accepts GET, POST requests. Received a {req.method} request."
            )
        params = {k: v[0] for k, v in req.query.items() if v}
        if req.method == "POST":
            params.update(req.form())
        return authorize(sim, tenant_segment, params)
    if req.method != "POST":
        return sts_error_reply(
            sim,
            StsError(
                "invalid_request",
                900561,
                f"The endpoint only accepts POST, OPTIONS requests. Received a {req.method} request.",
            ),
        )
    try:
        return token(sim, tenant_segment, req)
    except StsError as exc:
        return sts_error_reply(sim, exc)


def _known_tenant(sim: AzureDevOpsSimulator, segment: str) -> bool:
    return segment.lower() in (sim.state.tenant_id.lower(), sim.state.tenant_domain.lower(), "organizations", "common")


def openid_configuration(sim: AzureDevOpsSimulator, segment: str) -> dict[str, Any]:
    """The v2.0 discovery document. For ``common``/``organizations`` the issuer keeps Entra's ``{tenantid}``
    placeholder, as the real document does."""
    base = sim.entra_url
    tenant = segment
    issuer_tenant = sim.state.tenant_id if segment.lower() not in ("common", "organizations") else "{tenantid}"
    return {
        "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{issuer_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "kerberos_endpoint": f"{base}/{tenant}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


# ---- scopes ----------------------------------------------------------------------------------------------------------


def resolve_scopes(scope: str) -> tuple[str | None, list[str], set[str]]:
    """(resource id or None, that resource's permissions, OpenID Connect scopes) of a space-separated ``scope``.

    Raises :class:`StsError` for more than one resource (AADSTS700022), an unknown resource (AADSTS500011) or an
    Azure DevOps permission other than ``.default``/``user_impersonation`` (AADSTS70011)."""
    resource: str | None = None
    permissions: list[str] = []
    oidc: set[str] = set()
    for item in scope.split():
        if item in OIDC_SCOPES:
            oidc.add(item)
            continue
        if "/" in item:
            uri, _, permission = item.rpartition("/")
        else:  # "User.Read": a Microsoft Graph permission by its short name
            uri, permission = GRAPH_RESOURCE, item
        canonical = _canonical_resource(uri)
        if canonical is None:
            raise StsError(
                "invalid_resource",
                500011,
                f"The resource principal named {uri} was not found in the tenant. This can happen if the application "
                "has not been installed by the administrator of the tenant or consented to by any user in the "
                "tenant. You might have sent your authentication request to the wrong tenant.",
            )
        if resource is not None and canonical != resource:
            raise StsError(
                "invalid_scope",
                700022,
                "The provided value for the input parameter scope is not valid because it contains more than one "
                "resource.",
            )
        if canonical == ADO_RESOURCE and permission not in (".default", ADO_DELEGATED_SCOPE):
            raise StsError(
                "invalid_scope",
                70011,
                f"The provided value for the input parameter 'scope' is not valid. The scope {item} is not valid.",
            )
        resource = canonical
        permissions.append(permission)
    return resource, permissions, oidc


def _canonical_resource(uri: str) -> str | None:
    low = uri.lower().rstrip("/")
    if low == ADO_RESOURCE or low in (a.lower() for a in ADO_RESOURCE_ALIASES):
        return ADO_RESOURCE
    if low == GRAPH_RESOURCE or low in (a.lower() for a in GRAPH_RESOURCE_ALIASES):
        return GRAPH_RESOURCE
    return None


def _resources_of(scope: str) -> set[str]:
    """Every resource an authorize request names (it may span several, unlike the token request)."""
    found: set[str] = set()
    for item in scope.split():
        if item in OIDC_SCOPES:
            continue
        uri = item.rpartition("/")[0] if "/" in item else GRAPH_RESOURCE
        canonical = _canonical_resource(uri)
        if canonical is None:
            raise AuthorizeError(
                "invalid_resource",
                500011,
                f"The resource principal named {uri} was not found in the tenant.",
            )
        found.add(canonical)
    return found or {GRAPH_RESOURCE}


# ---- authorize -----------------------------------------------------------------------------------------------------


def authorize(sim: AzureDevOpsSimulator, segment: str, params: dict[str, str]) -> Reply:
    state = sim.state
    client_id = params.get("client_id", "")
    if not client_id:
        return _error_page(sim, 900144, "The request body must contain the following parameter: 'client_id'.")
    app = state.apps.get(client_id)
    if app is None:
        return _error_page(
            sim,
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{state.tenant_domain}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You may have sent your authentication request to the wrong "
            "tenant.",
        )
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        return _error_page(sim, 900971, "No reply address provided.")
    if redirect_uri not in app.redirect_uris:
        return _error_page(
            sim,
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured "
            f"for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to "
            "your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more "
            "about how to fix this.",
        )
    response_mode = params.get("response_mode") or "query"
    client_state = params.get("state")
    try:
        if response_mode not in ("query", "fragment", "form_post"):
            response_mode = "query"
            raise AuthorizeError("invalid_request", 70007, "The response_mode parameter is not supported.")
        code = _authorize_checks(sim, app, redirect_uri, params)
    except AuthorizeError as exc:
        answer = {"error": exc.error, "error_description": f"AADSTS{exc.code}: {exc.description}"}
        answer["error_uri"] = f"{sim.entra_url}/error?code={exc.code}"
        if client_state is not None:
            answer["state"] = client_state
        return _deliver(redirect_uri, response_mode, answer)
    answer = {"code": code.code}
    if client_state is not None:
        answer["state"] = client_state
    answer["session_state"] = str(uuid.uuid5(uuid.NAMESPACE_URL, code.user_oid))
    return _deliver(redirect_uri, response_mode, answer)


def _authorize_checks(sim: AzureDevOpsSimulator, app: App, redirect_uri: str, params: dict[str, str]) -> AuthCode:
    state = sim.state
    response_type = params.get("response_type")
    if not response_type:
        raise AuthorizeError(
            "invalid_request", 900144, "The request body must contain the following parameter: 'response_type'."
        )
    if response_type.split() != ["code"]:
        raise AuthorizeError(
            "unsupported_response_type",
            70005,
            f"response_type '{response_type}' is not enabled for the application (the simulator serves the "
            "authorization code flow: response_type=code).",
        )
    scope = params.get("scope", "")
    if not scope.strip():
        raise AuthorizeError(
            "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
        )
    resources = _resources_of(scope)
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise AuthorizeError(
                "invalid_request", 900144, "The request body must contain the following parameter: 'code_challenge'."
            )
        if sim.require_pkce:
            raise AuthorizeError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'code_challenge'. (Simulator policy "
                "require_pkce: every authorization request must use PKCE with S256.)",
            )
    else:
        method = method or "plain"  # "If excluded, code_challenge is assumed to be plaintext" (auth code flow page)
        if method not in ("S256", "plain"):
            raise AuthorizeError("invalid_request", 50147, f"The code_challenge_method '{method}' is not supported.")
        if method == "plain" and not sim.allow_plain_pkce:
            raise AuthorizeError(
                "invalid_request",
                50147,
                "code_challenge_method 'plain' is refused (simulator policy: S256 only; allow_plain_pkce=True "
                "accepts it, as Entra does).",
            )
        if method == "S256" and not _S256_CHALLENGE.fullmatch(challenge):
            raise AuthorizeError("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
        if method == "plain" and not _VERIFIER.fullmatch(challenge):
            raise AuthorizeError("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
    user = _signed_in_user(sim, params.get("login_hint"))
    outcome = sim.authorize_outcome
    prompt = params.get("prompt", "")
    if user is None or outcome == "login_required":
        raise AuthorizeError(
            "login_required",
            50058,
            "A silent sign-in request was sent but no user is signed in.",
        )
    grant = state.grant(user.oid, app.client_id)
    if outcome == "access_denied":
        raise AuthorizeError("access_denied", 65004, "User declined to consent to access the app.")
    if outcome == "consent_required" or (prompt == "none" and not resources <= grant.resources):
        raise AuthorizeError(
            "consent_required",
            65001,
            f"The user or administrator has not consented to use the application with ID '{app.client_id}' named "
            f"'{app.display_name}'. Send an interactive authorization request for this user and resource.",
        )
    if outcome == "interaction_required":
        raise AuthorizeError(
            "interaction_required",
            50076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, you "
            f"must use multi-factor authentication to access '{ADO_RESOURCE}'.",
        )
    grant.resources |= resources  # the user consents to what was asked
    grant.withdrawn = False
    return state.new_code(
        client_id=app.client_id,
        redirect_uri=redirect_uri,
        scopes=scope.split(),
        user_oid=user.oid,
        code_challenge=challenge,
        code_challenge_method=method if challenge is not None else None,
        nonce=params.get("nonce"),
    )


def _signed_in_user(sim: AzureDevOpsSimulator, login_hint: str | None) -> User | None:
    state = sim.state
    if login_hint:
        hinted = state.user_by_upn(login_hint)
        if hinted is not None:
            return hinted
    return state.users.get(state.signed_in_oid) if state.signed_in_oid else None


def _deliver(redirect_uri: str, response_mode: str, answer: dict[str, str]) -> Reply:
    if response_mode == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>' for k, v in answer.items()
        )
        page = (
            "<html><head><title>Working...</title></head><body>"
            f'<form method="POST" name="hiddenform" action="{html.escape(redirect_uri)}">{fields}'
            '<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"/>'
            '</noscript></form><script language="javascript">document.forms[0].submit();</script></body></html>'
        )
        return Reply.html(200, page)
    parts = urlsplit(redirect_uri)
    encoded = urlencode(answer)
    if response_mode == "fragment":
        location = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, encoded))
    else:
        query = f"{parts.query}&{encoded}" if parts.query else encoded
        location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return Reply(302, b"", "text/html; charset=utf-8", headers=[("Location", location)])


# ---- token ---------------------------------------------------------------------------------------------------------


def token(sim: AzureDevOpsSimulator, segment: str, req: Request) -> Reply:
    content_type = (req.header("content-type") or "").split(";")[0].strip().lower()
    form = req.form() if content_type == "application/x-www-form-urlencoded" else {}
    grant_type = form.get("grant_type")
    if not grant_type:
        raise StsError(
            "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."
        )
    if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
        raise StsError(
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
        )
    app, appidacr = _authenticate_client(sim, segment, req, form)
    if grant_type == "authorization_code":
        return _redeem_code(sim, app, appidacr, form)
    if grant_type == "refresh_token":
        return _redeem_refresh_token(sim, app, appidacr, form)
    return _client_credentials(sim, app, appidacr, form)


def _authenticate_client(
    sim: AzureDevOpsSimulator, segment: str, req: Request, form: dict[str, str]
) -> tuple[App, str]:
    """The app and its ``appidacr`` ("1" secret, "2" certificate). Client secret in the body, HTTP Basic
    (documented as "also supported") or a client assertion (``private_key_jwt``, what msal sends for a certificate)."""
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    authorization = req.header("authorization") or ""
    if authorization.lower().startswith("basic "):
        try:
            basic_id, _, basic_secret = base64.b64decode(authorization[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise StsError("invalid_client", 7000215, "Invalid client secret provided.") from exc
        basic_id, basic_secret = unquote(basic_id.replace("+", " ")), unquote(basic_secret.replace("+", " "))
        if client_id and client_id != basic_id:
            raise StsError(
                "invalid_request", 90023, "The client_id in the body and in the Authorization header differ."
            )
        client_id, secret = basic_id, basic_secret
    if not client_id:
        raise StsError("invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
    app = sim.state.apps.get(client_id)
    if app is None:
        raise StsError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{sim.state.tenant_domain}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or "
            "consented to by any user in the tenant. You may have sent your authentication request to the wrong "
            "tenant.",
        )
    assertion_type = form.get("client_assertion_type")
    assertion = form.get("client_assertion")
    if assertion_type or assertion:
        if assertion_type != ASSERTION_TYPE or not assertion:
            raise StsError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_assertion_type'.",
            )
        _check_assertion(sim, segment, app, assertion)
        return app, "2"
    if secret is None or secret == "":
        raise StsError(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    if not secrets.compare_digest(secret.encode(), app.client_secret.encode()):
        raise StsError(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
            f"not the client secret ID, for a secret added to app '{app.client_id}'.",
        )
    return app, "1"


def _check_assertion(sim: AzureDevOpsSimulator, segment: str, app: App, assertion: str) -> None:
    claims: dict[str, Any] | None = None
    for cert in app.certificates:
        try:
            claims = verify_client_assertion(assertion, cert)
            break
        except JWTError:
            continue
    if claims is None:
        raise StsError(
            "invalid_client",
            700027,
            "Client assertion failed signature validation. (No certificate registered for the app verifies it.)",
        )
    audiences = {f"{sim.entra_url}/{t}/oauth2/v2.0/token" for t in (segment, sim.state.tenant_id)}
    aud = claims.get("aud")
    if aud not in audiences:
        raise StsError("invalid_client", 700027, f"The client assertion's audience '{aud}' is not the token endpoint.")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise StsError("invalid_client", 50048, "Subject mismatches Issuer claim in the client assertion.")
    now = sim.state.now_ts()
    exp, nbf = claims.get("exp"), claims.get("nbf", now)
    if not isinstance(exp, int | float) or exp < now or (isinstance(nbf, int | float) and nbf > now + 300):
        raise StsError("invalid_client", 700024, "Client assertion is not within its valid time range.")
    if not claims.get("jti"):
        raise StsError("invalid_client", 700027, "Client assertion contains no jti claim.")


def _redeem_code(sim: AzureDevOpsSimulator, app: App, appidacr: str, form: dict[str, str]) -> Reply:
    state = sim.state
    value = form.get("code")
    if not value:
        raise StsError("invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
    code = state.codes.get(value)
    if code is None:
        raise StsError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if code.client_id != app.client_id:
        raise StsError("invalid_grant", 70000, "Provided grant is invalid or malformed.")
    if code.used:
        raise StsError(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing "
            "refresh token.",
        )
    code.used = True  # any redemption attempt by the right client burns the code (see the README)
    if state.now_ts() - code.issued_at > sim.auth_code_lifetime:
        raise StsError(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive "
            f"authorization request for this user and resource. The token was issued on {_vss_time(code.issued_at)}.",
        )
    redirect_uri = form.get("redirect_uri")
    if not redirect_uri:
        raise StsError(
            "invalid_request", 900144, "The request body must contain the following parameter: 'redirect_uri'."
        )
    if redirect_uri != code.redirect_uri:
        raise StsError(
            "invalid_grant",
            500112,
            f"The reply address '{redirect_uri}' does not match the reply address '{code.redirect_uri}' provided when "
            "requesting Authorization code.",
        )
    if code.code_challenge is not None:
        verifier = form.get("code_verifier", "")
        if code.code_challenge_method == "S256":
            computed = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        else:
            computed = verifier
        if not _VERIFIER.fullmatch(verifier) or not secrets.compare_digest(computed, code.code_challenge):
            raise StsError(
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            )
    scope = form.get("scope") or " ".join(code.scopes)
    resource, permissions, oidc = resolve_scopes(scope)
    grant = state.grant(code.user_oid, app.client_id)
    if resource is not None and resource not in grant.resources:
        raise _consent_needed(sim, app)
    oidc |= set(code.scopes) & OIDC_SCOPES
    return _issue(sim, app, appidacr, code.user_oid, resource, permissions, oidc, code.nonce, form)


def _redeem_refresh_token(sim: AzureDevOpsSimulator, app: App, appidacr: str, form: dict[str, str]) -> Reply:
    state = sim.state
    value = form.get("refresh_token")
    if not value:
        raise StsError(
            "invalid_request", 900144, "The request body must contain the following parameter: 'refresh_token'."
        )
    rt = state.refresh_tokens.get(value)
    if rt is None:
        raise StsError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
    if rt.client_id != app.client_id:
        raise StsError("invalid_grant", 70000, "Provided grant is invalid or malformed.")
    now = state.now_ts()
    if rt.revoked is None and now - rt.last_used > sim.refresh_token_lifetime:
        rt.revoked = "expired"
    grant = state.grant(rt.user_oid, app.client_id)
    if rt.revoked is None and grant.withdrawn:
        rt.revoked = "consent"
    if rt.revoked is not None:
        raise _refresh_refusal(sim, app, rt, now)
    scope = form.get("scope") or " ".join(rt.scopes)
    resource, permissions, oidc = resolve_scopes(scope)
    if resource is not None and resource not in grant.resources:
        raise _consent_needed(sim, app)
    oidc |= set(rt.scopes) & OIDC_SCOPES
    if sim.revoke_used_refresh_tokens:
        rt.revoked = "rotated"
    else:
        rt.last_used = now  # "The Microsoft identity platform doesn't revoke old refresh tokens when used"
    return _issue(sim, app, appidacr, rt.user_oid, resource, permissions, oidc, None, form)


def _refresh_refusal(sim: AzureDevOpsSimulator, app: App, rt: RefreshToken, now: float) -> StsError:
    if rt.revoked == "consent":
        return _consent_needed(sim, app)
    if rt.revoked == "expired":
        days = int((now - rt.last_used) // 86400)
        return StsError(
            "invalid_grant",
            700082,
            f"The refresh token has expired due to inactivity. The token was issued on {_vss_time(rt.issued_at)} and "
            f"was inactive for {days}.00:00:00.",
        )
    return StsError(
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have "
        f"changed or reset their password. The grant was issued on '{_vss_time(rt.issued_at)}' and the TokensValidFrom "
        f"date (before which tokens are not valid) for this user is '{_vss_time(now)}'.",
    )


def _consent_needed(sim: AzureDevOpsSimulator, app: App) -> StsError:
    return StsError(
        sim.consent_error,
        65001,
        f"The user or administrator has not consented to use the application with ID '{app.client_id}' named "
        f"'{app.display_name}'. Send an interactive authorization request for this user and resource.",
        suberror="consent_required",
    )


def _client_credentials(sim: AzureDevOpsSimulator, app: App, appidacr: str, form: dict[str, str]) -> Reply:
    scope = form.get("scope", "")
    items = scope.split()
    if len(items) != 1 or not items[0].endswith("/.default"):
        raise StsError(
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value with "
            "/.default suffixed to the resource identifier (application ID URI).",
        )
    resource, _, _ = resolve_scopes(scope)
    assert resource is not None
    now = int(sim.state.now_ts())
    claims = {
        "aud": resource,
        "iss": f"https://sts.windows.net/{sim.state.tenant_id}/",
        "iat": now,
        "nbf": now,
        "exp": now + sim.access_token_lifetime,
        "aio": secrets.token_urlsafe(40),
        "appid": app.client_id,
        "appidacr": appidacr,
        "idp": f"https://sts.windows.net/{sim.state.tenant_id}/",
        "idtyp": "app",
        "oid": app.service_principal_oid,
        "rh": "0.AXsim" + secrets.token_urlsafe(24) + ".",
        "sub": app.service_principal_oid,
        "tid": sim.state.tenant_id,
        "uti": secrets.token_urlsafe(16),
        "ver": "1.0",
    }
    lifetime = sim.access_token_lifetime - 1
    body = {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": sim.signing_key.sign(claims),
    }
    return Reply.json(200, body, headers=_no_store(str(uuid.uuid4())))


def _issue(
    sim: AzureDevOpsSimulator,
    app: App,
    appidacr: str,
    user_oid: str,
    resource: str | None,
    permissions: list[str],
    oidc: set[str],
    nonce: str | None,
    form: dict[str, str],
) -> Reply:
    state = sim.state
    user = state.users[user_oid]
    body: dict[str, Any] = {"token_type": "Bearer"}
    access_token, scope_out = user_access_token(sim, user, app.client_id, resource, permissions, appidacr)
    body["scope"] = scope_out
    lifetime = sim.access_token_lifetime - 1  # Microsoft's examples show 3599 for a one-hour token
    body["expires_in"] = lifetime
    body["ext_expires_in"] = lifetime
    body["access_token"] = access_token
    if "offline_access" in oidc:
        scopes = sorted(oidc) + [_scope_string(resource, p) for p in permissions]
        body["refresh_token"] = state.new_refresh_token(app.client_id, user_oid, scopes).value
    if "openid" in oidc:
        body["id_token"] = id_token(sim, user, app.client_id, nonce)
    if form.get("client_info") == "1":  # msal sends client_info=1 and builds its account from the answer
        info = json.dumps({"uid": user.oid, "utid": state.tenant_id}, separators=(",", ":")).encode()
        body["client_info"] = b64url(info)
    return Reply.json(200, body, headers=_no_store(str(uuid.uuid4())))


def _scope_string(resource: str | None, permission: str) -> str:
    return f"{resource}/{permission}" if resource and resource != GRAPH_RESOURCE else permission


def user_access_token(
    sim: AzureDevOpsSimulator,
    user: User,
    client_id: str,
    resource: str | None,
    permissions: list[str],
    appidacr: str = "1",
) -> tuple[str, str]:
    """A delegated (v1.0-format, as Azure DevOps receives them) access token and the ``scope`` the answer reports."""
    now = int(sim.state.now_ts())
    audience = resource or GRAPH_RESOURCE
    if audience == ADO_RESOURCE:
        scp = ADO_DELEGATED_SCOPE  # ".default" resolves to the permission the app registration holds
        scope_out = f"{ADO_RESOURCE}/{ADO_DELEGATED_SCOPE}"
    else:
        names = [p for p in permissions if p != ".default"] or ["openid", "profile", "email"]
        scp = " ".join(names)
        scope_out = " ".join(names)
    given, _, family = user.display_name.partition(" ")
    claims = {
        "aud": audience,
        "iss": f"https://sts.windows.net/{sim.state.tenant_id}/",
        "iat": now,
        "nbf": now,
        "exp": now + sim.access_token_lifetime,
        "acr": "1",
        "aio": secrets.token_urlsafe(40),
        "amr": ["pwd", "mfa"],
        "appid": client_id,
        "appidacr": appidacr,
        "family_name": family or given,
        "given_name": given,
        "ipaddr": "127.0.0.1",
        "name": user.display_name,
        "oid": user.oid,
        "puid": user.puid,
        "rh": "0.AXsim" + secrets.token_urlsafe(24) + ".",
        "scp": scp,
        "sub": b64url(hashlib.sha256(f"{user.oid}:{audience}".encode()).digest())[:43],
        "tid": sim.state.tenant_id,
        "unique_name": user.upn,
        "upn": user.upn,
        "uti": secrets.token_urlsafe(16),
        "ver": "1.0",
    }
    return sim.signing_key.sign(claims), scope_out


def id_token(sim: AzureDevOpsSimulator, user: User, client_id: str, nonce: str | None) -> str:
    """A v2.0 ID token. msal (1.38+) only decodes it, but checks that ``nonce`` echoes the authorize request's."""
    now = int(sim.state.now_ts())
    claims: dict[str, Any] = {
        "aud": client_id,
        "iss": f"{sim.entra_url}/{sim.state.tenant_id}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "name": user.display_name,
        "oid": user.oid,
        "preferred_username": user.upn,
        "rh": "0.AXsim" + secrets.token_urlsafe(24) + ".",
        "sub": b64url(hashlib.sha256(f"{user.oid}:{client_id}".encode()).digest())[:43],
        "tid": sim.state.tenant_id,
        "uti": secrets.token_urlsafe(16),
        "ver": "2.0",
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return sim.signing_key.sign(claims)
