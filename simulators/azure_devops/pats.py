"""The simulated PAT Lifecycle Management API on the vssps host: ``/{organization}/_apis/tokens/pats``.

Sources: Microsoft Learn "Pats - Create / Get / List / Update / Revoke" (REST API 7.1) and their OpenAPI
specification (``specification/tokens/7.1/tokens.json`` with its ``httpExamples``), "Manage personal access tokens
(PATs) using REST API", "Manage personal access tokens using policies (for admins)".

Authentication: only a delegated Microsoft Entra access token for the Azure DevOps resource is accepted ("Unlike
other Azure DevOps Services APIs, users must provide a Microsoft Entra access token to use this API"; "You can't use
service principals or managed identities to create or revoke PATs"; the client credential flow "is not valid for use
with this API"). Anything else is answered like Azure DevOps answers an unauthenticated browser-ish request: HTTP 203
with the HTML sign-in page, or 401 when the client sends ``X-TFS-FedAuthRedirect: Suppress`` (as Microsoft's own
clients do) or the simulator is configured with ``bad_credentials_status=401``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .crypto import JWTError
from .state import (
    ADO_DELEGATED_SCOPE,
    ADO_RESOURCE,
    ADO_RESOURCE_ALIASES,
    Organization,
    Pat,
    User,
    format_vss_date,
    parse_vss_date,
    pat_token_value,
    ticks_round,
)
from .wire import Reply, Request, vss_error

if TYPE_CHECKING:
    from .server import AzureDevOpsSimulator

DEFAULT_API_VERSION = "7.1-preview.1"
SUPPORTED_VERSIONS = ((6, 1), (7, 0), (7, 1), (7, 2))
MAX_TOP = 100  # "$top: (Optional) How many tokens to return, limit of 100"
MAX_VALIDITY_DAYS = 365  # the longest expiration the PAT page offers ("custom defined", up to one year)
FULL_SCOPE = "app_token"  # what a full-access PAT carries as its scope (Pats - List example "all_access_token")
# Azure DevOps scopes as Microsoft Learn lists them for OAuth apps and PATs (a subset is enough: an unknown name
# answers invalidScope, a known one is only stored).
KNOWN_SCOPES = frozenset(
    """app_token vso.advsec vso.advsec_write vso.advsec_manage vso.agentpools vso.agentpools_manage
    vso.agentpools_listen vso.analytics vso.auditlog vso.auditstreams_manage vso.build vso.build_execute vso.code
    vso.code_write vso.code_manage vso.code_full vso.code_status vso.connected_server vso.entitlements
    vso.memberentitlementmanagement vso.memberentitlementmanagement_write vso.extension vso.extension_manage
    vso.extension.data vso.extension.data_write vso.graph vso.graph_manage vso.identity vso.identity_manage
    vso.machinegroup_manage vso.notification vso.notification_write vso.notification_manage vso.notification_diagnostics
    vso.packaging vso.packaging_write vso.packaging_manage vso.pipelineresources_use vso.pipelineresources_manage
    vso.project vso.project_write vso.project_manage vso.release vso.release_execute vso.release_manage
    vso.securefiles_read vso.securefiles_write vso.securefiles_manage vso.security_manage vso.serviceendpoint
    vso.serviceendpoint_query vso.serviceendpoint_manage vso.symbols vso.symbols_write vso.symbols_manage
    vso.taskgroups_read vso.taskgroups_write vso.taskgroups_manage vso.dashboards vso.dashboards_manage
    vso.test vso.test_write vso.threads_full vso.tokenadministration vso.tokens vso.profile vso.profile_write
    vso.variablegroups_read vso.variablegroups_write vso.variablegroups_manage vso.wiki vso.wiki_write vso.work
    vso.work_write vso.work_full""".split()
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_VERSION = re.compile(r"^(\d+)\.(\d+)(-preview(?:\.(\d+))?)?$", re.IGNORECASE)
DISPLAY_FILTERS = ("active", "revoked", "expired", "all")
SORT_OPTIONS = ("displayName", "displayDate", "status")


class PatError(Exception):
    """A refusal answered as ``PatTokenResult`` (``{"patToken": null, "patTokenError": …}``)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class VssError(Exception):
    """A refusal answered as an Azure DevOps service error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body


# ---- the pipeline --------------------------------------------------------------------------------------------------


def handle(sim: AzureDevOpsSimulator, req: Request) -> Reply:
    parts = [p for p in req.path.split("/") if p]
    if len(parts) < 2 or parts[1].lower() != "_apis":
        return Reply.json(404, vss_error(f"The resource '{req.path}' cannot be found.", "NotFoundException"))
    org = sim.state.organization(parts[0])
    if org is None:
        return Reply.json(
            404,
            vss_error(
                f"TF400813: The organization '{parts[0]}' could not be found or you do not have access to it.",
                "HostNotFoundException",
            ),
        )
    who = authenticate(sim, req)
    if not isinstance(who, User):
        return refuse(sim, req, org, reason=who)
    if who.oid not in org.members:
        return Reply.json(
            401,
            vss_error(
                f"TF400813: The user '{who.oid}' is not authorized to access this resource.",
                "UnauthorizedRequestException",
                "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, "
                "Microsoft.TeamFoundation.Framework.Server",
            ),
        )
    rest = "/".join(p.lower() for p in parts[2:])
    if rest != "tokens/pats":
        return Reply.json(
            404,
            vss_error(
                f"The controller for path '{req.path}' was not found or does not implement IController.",
                "HttpException",
                "System.Web.HttpException, System.Web",
            ),
        )
    try:
        version = api_version(sim, req)
    except VssError as exc:
        return Reply.json(exc.status, exc.body)
    try:
        if req.method == "POST":
            reply = create(sim, req, org, who)
        elif req.method == "GET" and req.q("authorizationId") is not None:
            reply = get(sim, req, who)
        elif req.method == "GET":
            reply = list_pats(sim, req, org, who)
        elif req.method == "PUT":
            reply = update(sim, req, org, who)
        elif req.method == "DELETE":
            reply = revoke(sim, req, who)
        else:
            return Reply.json(
                405,
                vss_error(
                    f"The requested resource does not support http method '{req.method}'.",
                    "HttpMethodNotAllowedException",
                ),
                headers=[("Allow", "GET, POST, PUT, DELETE")],
            )
    except PatError as exc:
        reply = Reply.json(sim.pat_error_status, {"patToken": None, "patTokenError": exc.error})
    except VssError as exc:
        return Reply.json(exc.status, exc.body)
    if reply.content_type and reply.content_type.startswith("application/json"):
        reply.content_type = f"application/json; charset=utf-8; api-version={version}"
    reply.headers.append(("X-VSS-UserData", f"{who.oid}:{who.upn}"))
    return reply


def authenticate(sim: AzureDevOpsSimulator, req: Request) -> User | str:
    """The user a delegated Entra access token names, or why the request is not authenticated for this API."""
    authorization = (req.header("authorization") or "").strip()
    scheme, _, credential = authorization.partition(" ")
    if not authorization:
        return "no credentials"
    if scheme.lower() == "basic":
        return "a PAT (Basic) is not accepted by the PAT Lifecycle Management API"
    if scheme.lower() != "bearer" or not credential.strip():
        return f"unsupported scheme {scheme!r}"
    return user_from_access_token(sim, credential.strip())


def user_from_access_token(sim: AzureDevOpsSimulator, token: str) -> User | str:
    try:
        claims = sim.signing_key.verify(token)
    except JWTError as exc:
        return f"access token rejected: {exc}"
    now = sim.state.now_ts()
    tenant = sim.state.tenant_id
    if claims.get("aud") not in (ADO_RESOURCE, *ADO_RESOURCE_ALIASES):
        return f"access token audience {claims.get('aud')!r} is not Azure DevOps"
    if claims.get("iss") not in (f"https://sts.windows.net/{tenant}/", f"{sim.entra_url}/{tenant}/v2.0"):
        return "access token issuer is not the tenant"
    if claims.get("tid") != tenant:
        return "access token is for another tenant"
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int | float) or exp <= now:
        return "access token expired"
    if isinstance(nbf, int | float) and nbf > now:
        return "access token not yet valid"
    if claims.get("idtyp") == "app" or "scp" not in claims:
        return "an app-only (client credentials) token is not accepted by the PAT Lifecycle Management API"
    if ADO_DELEGATED_SCOPE not in str(claims.get("scp", "")).split():
        return "access token lacks user_impersonation"
    user = sim.state.users.get(str(claims.get("oid")))
    if user is None:
        return "unknown user"
    return user


SIGN_IN_PAGE = """<!DOCTYPE html>
<html lang="en-US">
<head><meta charset="utf-8"/><title>Azure DevOps Services | Sign In</title></head>
<body>
<div id="sign-in"><h1>Azure DevOps</h1>
<p>Sign in to your account to continue to Azure DevOps.</p>
<a href="{entra}/{tenant}/oauth2/v2.0/authorize?client_id=499b84ac-1321-427f-aa17-267ca6975798&amp;\
response_type=code">Sign in</a>
</div>
</body>
</html>
"""


def auth_headers(sim: AzureDevOpsSimulator, org: Organization, realm: str) -> list[tuple[str, str]]:
    tenant = sim.state.tenant_id
    return [
        ("X-TFS-ProcessId", sim.process_id),
        ("ActivityId", str(uuid.uuid4())),
        ("X-TFS-FedAuthRealm", realm),
        ("X-TFS-FedAuthIssuer", f"{realm.rstrip('/')}/{org.name}/"),
        ("X-VSS-ResourceTenant", tenant),
        ("X-VSS-AuthorizationEndpoint", f"{sim.vssps_url}/{org.name}/"),
    ]


def refuse(sim: AzureDevOpsSimulator, req: Request, org: Organization, reason: str) -> Reply:
    """203 + sign-in page (default), or 401 with the challenges when redirects are suppressed."""
    headers = auth_headers(sim, org, f"{sim.vssps_url}/")
    headers.append(("X-Sim-Refusal", reason))
    suppress = (req.header("x-tfs-fedauthredirect") or "").lower() == "suppress"
    if suppress or sim.bad_credentials_status == 401:
        headers += [
            ("WWW-Authenticate", f"Bearer authorization_uri={sim.entra_url}/{sim.state.tenant_id}"),
            ("WWW-Authenticate", f'Basic realm="{sim.vssps_url}/"'),
            ("WWW-Authenticate", "TFS-Federated"),
        ]
        body = vss_error(
            "TF400813: The user '' is not authorized to access this resource.",
            "UnauthorizedRequestException",
            "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, "
            "Microsoft.TeamFoundation.Framework.Server",
        )
        return Reply.json(401, body, headers=headers)
    page = SIGN_IN_PAGE.format(entra=sim.entra_url, tenant=sim.state.tenant_id)
    return Reply.html(203, page, headers=headers)


def api_version(sim: AzureDevOpsSimulator, req: Request) -> str:
    """The ``api-version`` (query, or ``Accept: application/json; api-version=…``), checked like Azure DevOps."""
    raw = req.q("api-version")
    if raw is None:
        match = re.search(r"api-version\s*=\s*([^;,\s]+)", req.header("accept") or "", re.IGNORECASE)
        raw = match.group(1) if match else None
    if raw is None or raw == "":
        if req.method == "GET" and not sim.require_api_version_on_get:
            return DEFAULT_API_VERSION  # the server then picks the latest version of the (preview) resource
        raise VssError(
            400,
            vss_error(
                f'No api-version was supplied for the "{req.method}" request. The version must be supplied either as '
                'part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. '
                '"?api-version=1.0").',
                "VssVersionNotSpecifiedException",
            ),
        )
    match = _VERSION.match(raw.strip())
    if match is None:
        raise VssError(
            400,
            vss_error(f"The api-version '{raw}' is not valid.", "VssInvalidApiVersionException"),
        )
    major, minor = int(match.group(1)), int(match.group(2))
    if (major, minor) > SUPPORTED_VERSIONS[-1]:
        raise VssError(
            400,
            vss_error(
                f"The requested REST API version of {major}.{minor} is out of range for this server. The latest REST "
                "API version this server supports is 7.2.",
                "VssVersionOutOfRangeException",
            ),
        )
    if (major, minor) < SUPPORTED_VERSIONS[0]:
        raise VssError(
            404,
            vss_error(
                f"API resource location 55967393-20ef-45c6-a96c-b5d5d5986a9a is not registered for version "
                f"{major}.{minor} (the PAT Lifecycle Management API starts at 6.1-preview).",
                "VssResourceNotFoundException",
            ),
        )
    if not match.group(3):
        raise VssError(
            400,
            vss_error(
                f'The requested version "{major}.{minor}" of the resource is under preview. The -preview flag must be '
                f'supplied in the api-version for such requests. For example: "{major}.{minor}-preview"',
                "VssInvalidPreviewVersionException",
            ),
        )
    return raw.strip()


# ---- bodies ----------------------------------------------------------------------------------------------------------


def _json_body(req: Request, parameter: str) -> dict[str, Any]:
    if not req.body.strip():
        raise VssError(
            400,
            vss_error(
                f"Value cannot be null.\r\nParameter name: {parameter}",
                "ArgumentNullException",
                "System.ArgumentNullException, mscorlib",
            ),
        )
    try:
        body = json.loads(req.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        # What Azure DevOps answered to a malformed create body (MicrosoftDocs/vsts-rest-api-specs issue 636).
        raise VssError(
            400,
            {
                "$id": "1",
                "innerException": None,
                "message": f"TF400898: An Internal Error Occurred. Activity Id: {uuid.uuid4()}.",
                "typeName": "Newtonsoft.Json.JsonReaderException, Newtonsoft.Json",
                "typeKey": "JsonReaderException",
                "errorCode": 0,
                "eventId": 0,
            },
        )
    # Newtonsoft binds property names case-insensitively.
    return {str(k).lower(): v for k, v in body.items()}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise VssError(
        400,
        {
            "$id": "1",
            "innerException": None,
            "message": f"TF400898: An Internal Error Occurred. Activity Id: {uuid.uuid4()}.",
            "typeName": "Newtonsoft.Json.JsonReaderException, Newtonsoft.Json",
            "typeKey": "JsonReaderException",
            "errorCode": 0,
            "eventId": 0,
        },
    )


def _check_display_name(value: Any, required: bool) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PatError("displayNameRequired" if required else "invalidDisplayName")
    if not isinstance(value, str) or any(ord(c) < 32 for c in value):
        raise PatError("invalidDisplayName")
    return value


def _check_scope(sim: AzureDevOpsSimulator, value: Any) -> str:
    if not isinstance(value, str) or not value.split():
        raise PatError("invalidScope")
    items = value.split()
    if any(item not in KNOWN_SCOPES for item in items):
        raise PatError("invalidScope")
    if FULL_SCOPE in items and sim.restrict_full_scope:
        raise PatError("fullScopePatPolicyViolation")
    return " ".join(items)


def _check_valid_to(sim: AzureDevOpsSimulator, value: Any) -> datetime:
    if not isinstance(value, str):
        raise PatError("invalidValidTo")
    try:
        valid_to = parse_vss_date(value)
    except ValueError as exc:
        raise PatError("invalidValidTo") from exc
    now = sim.state.now()
    if valid_to <= now or valid_to - now > timedelta(days=MAX_VALIDITY_DAYS):
        raise PatError("invalidValidTo")
    if sim.max_lifespan_days is not None and valid_to - now > timedelta(days=sim.max_lifespan_days):
        raise PatError("patLifespanPolicyViolation")
    return ticks_round(valid_to)


def _check_all_orgs(sim: AzureDevOpsSimulator, value: Any) -> bool:
    all_orgs = _bool(value)
    if all_orgs and sim.restrict_global:
        raise PatError("globalPatPolicyViolation")
    return all_orgs


def render(pat: Pat, with_token: bool) -> dict[str, Any]:
    """A ``PatToken`` in the field order of Microsoft's examples; ``token`` only right after creation."""
    return {
        "displayName": pat.display_name,
        "validTo": format_vss_date(pat.valid_to),
        "scope": pat.scope,
        "targetAccounts": None if pat.target_accounts is None else list(pat.target_accounts),
        "validFrom": format_vss_date(pat.valid_from),
        "authorizationId": pat.authorization_id,
        "token": pat.token if with_token else None,
    }


def _authorization_id(value: Any) -> str:
    if not isinstance(value, str) or not _GUID.match(value.strip()):
        raise PatError("invalidAuthorizationId")
    return str(uuid.UUID(value.strip()))


def _own(sim: AzureDevOpsSimulator, authorization_id: str, user: User) -> Pat:
    pat = sim.state.pats.get(authorization_id)
    if pat is None or pat.user_oid != user.oid:  # another user's PAT is as unknown as a missing one
        raise PatError("authorizationNotFound")
    return pat


# ---- operations ----------------------------------------------------------------------------------------------------


def create(sim: AzureDevOpsSimulator, req: Request, org: Organization, user: User) -> Reply:
    body = _json_body(req, "patTokenCreateRequest")
    display_name = _check_display_name(body.get("displayname"), required=True)
    scope = _check_scope(sim, body.get("scope"))
    valid_to = _check_valid_to(sim, body.get("validto"))
    all_orgs = _check_all_orgs(sim, body.get("allorgs", False))
    now = sim.state.now()
    pat = Pat(
        authorization_id=str(uuid.uuid4()),
        user_oid=user.oid,
        display_name=display_name,
        scope=scope,
        valid_from=ticks_round(now),
        valid_to=valid_to,
        target_accounts=None if all_orgs else [org.id],
        token=pat_token_value(),
    )
    sim.state.pats[pat.authorization_id] = pat
    return Reply.json(200, {"patToken": render(pat, with_token=True), "patTokenError": "none"})


def get(sim: AzureDevOpsSimulator, req: Request, user: User) -> Reply:
    pat = _own(sim, _authorization_id(req.q("authorizationId")), user)
    return Reply.json(200, {"patToken": render(pat, with_token=False), "patTokenError": "none"})


def list_pats(sim: AzureDevOpsSimulator, req: Request, org: Organization, user: User) -> Reply:
    state = sim.state
    display = _enum(req.q("displayFilterOption"), DISPLAY_FILTERS, "displayFilterOption") or "active"
    sort = _enum(req.q("sortByOption"), SORT_OPTIONS, "sortByOption")
    ascending_raw = req.q("isSortAscending")
    ascending = True if ascending_raw in (None, "") else ascending_raw.lower() == "true"
    top_raw = req.q("$top")
    top = sim.pat_page_size
    if top_raw not in (None, ""):
        try:
            top = int(top_raw)
        except ValueError:
            top = -1
        if not 1 <= top <= MAX_TOP:
            raise VssError(
                400,
                vss_error(
                    f"The value '{top_raw}' of $top is out of range: it must be between 1 and {MAX_TOP}.",
                    "ArgumentOutOfRangeException",
                    "System.ArgumentOutOfRangeException, mscorlib",
                ),
            )
    filters = {"d": display, "s": sort, "a": ascending, "t": top}
    offset = 0
    continuation = req.q("continuationToken")
    if continuation:
        offset = _read_continuation(continuation, filters)
    mine = [
        p
        for p in state.pats.values()
        if p.user_oid == user.oid and (p.target_accounts is None or org.id in p.target_accounts)
    ]
    if display != "all":
        mine = [p for p in mine if state.pat_status(p) == display]
    if sort == "displayName":
        mine.sort(key=lambda p: p.display_name.lower(), reverse=not ascending)
    elif sort == "displayDate":
        mine.sort(key=lambda p: p.valid_to, reverse=not ascending)
    elif sort == "status":
        mine.sort(key=state.pat_status, reverse=not ascending)
    page = mine[offset : offset + top]
    more = offset + top < len(mine)
    token = _write_continuation(offset + top, filters) if more else ""
    return Reply.json(200, {"continuationToken": token, "patTokens": [render(p, with_token=False) for p in page]})


def _enum(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value in (None, ""):
        return None
    for option in allowed:
        if option.lower() == value.lower():
            return option
    raise VssError(
        400,
        vss_error(
            f"The value '{value}' is not valid for {name}. Valid values: {', '.join(allowed)}.",
            "ArgumentException",
            "System.ArgumentException, mscorlib",
        ),
    )


def _write_continuation(offset: int, filters: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, **filters}).encode()).decode().rstrip("=")


def _read_continuation(token: str, filters: dict[str, Any]) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["o"])
        same = all(data.get(k) == v for k, v in filters.items())
    except (ValueError, KeyError, TypeError):
        same, offset = False, 0
    if not same or offset < 0:
        # "Subsequent calls to the API require the same filtering options to be supplied."
        raise VssError(
            400,
            vss_error(
                "The continuation token is not valid for this request: subsequent calls must supply the same "
                "filtering options (displayFilterOption, sortByOption, isSortAscending, $top).",
                "InvalidContinuationTokenException",
            ),
        )
    return offset


def update(sim: AzureDevOpsSimulator, req: Request, org: Organization, user: User) -> Reply:
    body = _json_body(req, "patTokenUpdateRequest")
    pat = _own(sim, _authorization_id(body.get("authorizationid")), user)
    if pat.revoked:
        raise PatError("invalidAuthorizationId")  # "To update a token, it must be valid (has not been revoked)."
    changes: dict[str, Any] = {}
    if body.get("displayname") is not None:
        changes["display_name"] = _check_display_name(body["displayname"], required=False)
    if body.get("scope") is not None:
        changes["scope"] = _check_scope(sim, body["scope"])
    if body.get("validto") is not None:
        changes["valid_to"] = _check_valid_to(sim, body["validto"])
    if body.get("allorgs") is not None:
        changes["target_accounts"] = None if _check_all_orgs(sim, body["allorgs"]) else [org.id]
    for name, value in changes.items():
        setattr(pat, name, value)
    return Reply.json(200, {"patToken": render(pat, with_token=False), "patTokenError": "none"})


def revoke(sim: AzureDevOpsSimulator, req: Request, user: User) -> Reply:
    raw = req.q("authorizationId")
    if raw is None or raw == "":
        raise VssError(
            400,
            vss_error(
                "Value cannot be null.\r\nParameter name: authorizationId",
                "ArgumentNullException",
                "System.ArgumentNullException, mscorlib",
            ),
        )
    try:
        authorization_id = _authorization_id(raw)
        pat = _own(sim, authorization_id, user)
    except PatError as exc:
        raise VssError(
            404 if exc.error == "authorizationNotFound" else 400,
            vss_error(
                f"The personal access token with authorizationId '{raw}' was not found.",
                "SessionTokenNotFoundException",
                "Microsoft.VisualStudio.Services.DelegatedAuthorization.SessionTokenNotFoundException, "
                "Microsoft.VisualStudio.Services.WebApi",
            ),
        ) from exc
    pat.revoked = True
    return Reply(204)
