"""The JFrog Access token API of the simulator (``/access/api/v1/…``).

Endpoints (JFrog REST APIs pages named per handler): ``GET system/ping``, ``POST tokens`` (create and refresh),
``GET tokens``, ``GET tokens/{id|me}``, ``DELETE tokens/{id|me}``, ``DELETE tokens/revoke``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from .model import AccessError, Reply, Request
from .state import Caller, State, TokenRecord
from .tokens import USER_SCOPE, scope_error

__all__ = ["handle_access"]

PREFIX = "/access/api/v1"
STRING_FIELDS = ("grant_type", "username", "scope", "description", "audience", "refresh_token", "project_key")
BOOL_FIELDS = ("refreshable", "include_reference_token", "force_revocable")
LIMITS = {"username": 255, "scope": 500, "description": 1024, "audience": 255}

Handler = Callable[[State, Request, Caller | None, dict[str, str]], Reply]


def _route_table() -> list[tuple[str, re.Pattern[str], Handler, bool]]:
    """(method, pattern, handler, needs_auth) in match order: ``tokens/revoke`` before ``tokens/{id}``."""
    return [
        ("GET", re.compile(r"^/system/ping/?$"), _ping, False),
        ("POST", re.compile(r"^/tokens/?$"), _create, True),
        ("GET", re.compile(r"^/tokens/?$"), _list, True),
        ("DELETE", re.compile(r"^/tokens/revoke/?$"), _revoke_by_value, True),
        ("GET", re.compile(r"^/tokens/(?P<token_id>[^/]+)/?$"), _get, True),
        ("DELETE", re.compile(r"^/tokens/(?P<token_id>[^/]+)/?$"), _revoke_by_id, True),
    ]


def handle_access(state: State, request: Request) -> Reply:
    """Route, authenticate and run one ``/access/…`` call."""
    try:
        if not request.path.startswith(PREFIX + "/"):
            raise AccessError(404, "Not Found")
        inner = request.path[len(PREFIX) :]
        allowed: list[str] = []
        for method, pattern, handler, needs_auth in ROUTES:
            match = pattern.match(inner)
            if match is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            with state.lock:
                caller = authenticate(state, request) if needs_auth else None
                return handler(state, request, caller, match.groupdict())
        if allowed:
            raise AccessError(405, "Method Not Allowed", {"Allow": ", ".join(sorted(set(allowed)))})
        raise AccessError(404, "Not Found")
    except AccessError as exc:
        return exc.reply()


def authenticate(state: State, request: Request) -> Caller:
    """The caller of an Access API call: ``Authorization: Bearer <access or reference token>``; Basic
    ``user:token`` only with ``basic_auth_api`` (JFrog REST APIs: "Create Token": basic authentication is
    supported "when enabled in the platform configuration"); 401 otherwise."""
    authorization = (request.header("Authorization") or "").strip()
    if not authorization:
        raise AccessError(401, "Unauthorized")
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    username: str | None = None
    if scheme.lower() == "basic":
        if not state.policy.basic_auth_api:
            raise AccessError(401, "Unsupported authentication method Basic")
        credentials = request.basic_credentials()
        if credentials is None:
            raise AccessError(401, "Bad credentials")
        username, value = credentials
    elif scheme.lower() != "bearer":
        raise AccessError(401, f"Unsupported authentication method {scheme}")
    elif not value:
        raise AccessError(401, "Bad credentials")
    caller, verdict = state.authenticate(value)
    if caller is None:
        raise AccessError(401, "Invalid token, expired" if verdict == "expired" else "Bad credentials")
    if username is not None and state.policy.basic_username_must_match and username != caller.username:
        raise AccessError(401, "Bad credentials")
    return caller


def _required(caller: Caller | None) -> Caller:
    assert caller is not None  # routes with needs_auth always get one
    return caller


# ---- ping ----------------------------------------------------------------------------------------------------


def _ping(state: State, request: Request, caller: Caller | None, params: dict[str, str]) -> Reply:
    """Access ping: ``OK`` as text/plain. A presented credential must be valid; with ``access_ping_auth``
    (default) one is required."""
    if request.header("Authorization") or state.policy.access_ping_auth:
        authenticate(state, request)
    return Reply.text(200, "OK")


# ---- create and refresh (JFrog REST APIs: "Create Token") -----------------------------------------------------


def _fields(request: Request) -> dict[str, Any]:
    """The parameters, from a form-encoded or a JSON body ("both are supported"); 415 for other bodies."""
    kind = request.content_type
    if kind == "application/json":
        data = request.json_object()
        if data is None:
            raise AccessError(400, "Request body is not a JSON object")
        return _check_json_types(data)
    if kind == "application/x-www-form-urlencoded" or (not kind and not request.body.strip()):
        try:
            pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(request.body))
        except (UnicodeDecodeError, ValueError) as exc:
            raise AccessError(400, "Malformed form body") from exc
        return _convert_form(dict(pairs))
    raise AccessError(415, f"Unsupported media type {kind or '(none)'}")


def _check_json_types(data: dict[str, Any]) -> dict[str, Any]:
    for name in STRING_FIELDS:
        if name in data and data[name] is not None and not isinstance(data[name], str):
            raise AccessError(400, f"{name} must be a string")
    for name in BOOL_FIELDS:
        if name in data and data[name] is not None and not isinstance(data[name], bool):
            raise AccessError(400, f"{name} must be a boolean")
    if data.get("expires_in") is not None and (
        isinstance(data["expires_in"], bool) or not isinstance(data["expires_in"], int)
    ):
        raise AccessError(400, "expires_in must be a number")
    return {k: v for k, v in data.items() if v is not None}


def _convert_form(pairs: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = dict(pairs)
    for name in BOOL_FIELDS:
        if name in data:
            if data[name].lower() not in ("true", "false"):
                raise AccessError(400, f"{name} must be true or false")
            data[name] = data[name].lower() == "true"
    if "expires_in" in data:
        if not re.fullmatch(r"-?\d+", data["expires_in"].strip()):
            raise AccessError(400, "expires_in must be a number")
        data["expires_in"] = int(data["expires_in"])
    return data


def _create(state: State, request: Request, caller: Caller | None, params: dict[str, str]) -> Reply:
    """``POST /access/api/v1/tokens``: create a token, or refresh one with ``grant_type=refresh_token``."""
    caller = _required(caller)
    fields = _fields(request)
    for name, limit in LIMITS.items():
        if len(fields.get(name) or "") > limit:
            raise AccessError(400, f"{name} is limited to {limit} characters")
    grant = fields.get("grant_type") or "client_credentials"
    if grant == "refresh_token":
        return _refresh(state, caller, fields)
    if grant != "client_credentials":
        raise AccessError(400, f"Unsupported grant type: {grant}")
    if not caller.is_user_token:
        raise AccessError(403, "Only user or admin tokens may create tokens")
    admin = caller.is_admin
    username = fields.get("username") or caller.username
    if username != caller.username and not admin:
        raise AccessError(403, "Non-admin users can only create tokens for themselves")
    scope = fields.get("scope") or USER_SCOPE
    problem = scope_error(scope)
    if problem:
        raise AccessError(400, problem)
    if not admin and scope != USER_SCOPE:
        raise AccessError(403, f"Non-admin users can only create tokens with scope {USER_SCOPE}")
    policy = state.policy
    expires_in = fields.get("expires_in")
    if expires_in is None:
        expires_in = policy.default_expiry
    if expires_in < 0:
        raise AccessError(400, "expires_in must not be negative")
    if not admin:
        limit = policy.non_admin_limit()
        if limit and expires_in == 0:
            raise AccessError(403, "Non-admin users cannot create non-expiring tokens")
        if limit and expires_in > limit:
            raise AccessError(403, f"expires_in is higher than the maximum allowed ({limit} seconds)")
    refreshable = bool(fields.get("refreshable", False))
    if refreshable and not admin and not policy.allow_refreshable:
        refreshable = False
    force_revocable = bool(fields.get("force_revocable", False))
    include_reference = bool(fields.get("include_reference_token", False))
    persist: bool | None = None
    if include_reference and not policy.persists(expires_in, force_revocable):
        if policy.reference_needs_persistence:
            raise AccessError(
                400,
                "A reference token needs a persistent token: expires_in must be 0 or at least "
                f"{policy.persistency_threshold} seconds",
            )
        persist = True
    if username not in state.users:
        state.add_user(username, transient=True)  # "the system will create a corresponding transient user"
    record = state.issue(
        username,
        scope=scope,
        expires_in=expires_in,
        refreshable=refreshable,
        description=fields.get("description"),
        audience=fields.get("audience") or "*@*",
        include_reference_token=include_reference,
        force_revocable=force_revocable,
        project_key=fields.get("project_key"),
        persist=persist,
    )
    return Reply.json(200, create_body(record))


def create_body(record: TokenRecord) -> dict[str, Any]:
    """The Create Token answer: ``expires_in`` only for expiring tokens, ``refresh_token`` and
    ``reference_token`` only when asked for."""
    body: dict[str, Any] = {"token_id": record.token_id, "access_token": record.access_token}
    if record.refresh_token:
        body["refresh_token"] = record.refresh_token
    if record.expires_in:
        body["expires_in"] = record.expires_in
    body["scope"] = record.scope
    body["token_type"] = "Bearer"
    if record.reference_token:
        body["reference_token"] = record.reference_token
    return body


def _refresh(state: State, caller: Caller, fields: dict[str, Any]) -> Reply:
    """Refresh (since 7.37.9): "The authenticated user must match the user of the access token being refreshed"."""
    value = fields.get("refresh_token")
    if not value:
        raise AccessError(400, "refresh_token is required when grant_type is refresh_token")
    old = state.by_refresh(value)
    now = state.now()
    if old is None or old.revoked:
        raise AccessError(400, "Invalid refresh token")
    expiry = old.expiry
    if expiry is not None and now >= expiry + state.policy.refresh_grace:
        raise AccessError(400, "Refresh token expired")
    if old.username != caller.username:
        raise AccessError(403, "The authenticated user does not match the user of the refreshed token")
    new = state.refresh(old, include_reference_token=bool(fields.get("include_reference_token", False)))
    return Reply.json(200, create_body(new))


# ---- inspect (JFrog REST APIs: "Get Tokens", "Get Token by ID") -------------------------------------------------


def _visible(caller: Caller, record: TokenRecord) -> bool:
    return caller.is_admin or record.username == caller.username


def _list(state: State, request: Request, caller: Caller | None, params: dict[str, str]) -> Reply:
    """``GET /access/api/v1/tokens``: admins see all saved tokens, others their own; filters ``description``
    (trailing ``*`` wildcard), ``username``, ``refreshable``, ``token_id``; ``order_by`` and ``descending_order``."""
    caller = _required(caller)
    if not caller.is_user_token:
        raise AccessError(403, "Only user or admin tokens may list tokens")
    records = [r for r in state.tokens.values() if r.persisted and not r.revoked and _visible(caller, r)]
    description = request.param("description")
    if description is not None:
        if description.endswith("*"):
            records = [r for r in records if (r.description or "").startswith(description[:-1])]
        else:
            records = [r for r in records if r.description == description]
    username = request.param("username")
    if username is not None:
        records = [r for r in records if r.username == username]
    refreshable = request.param("refreshable")
    if refreshable is not None:
        if refreshable.lower() not in ("true", "false"):
            raise AccessError(400, "refreshable must be true or false")
        records = [r for r in records if r.refreshable == (refreshable.lower() == "true")]
    token_id = request.param("token_id")
    if token_id is not None:
        records = [r for r in records if r.token_id == token_id]
    order_by = request.param("order_by") or "created"
    keys: dict[str, Callable[[TokenRecord], Any]] = {
        "created": lambda r: r.issued_at,
        "token_id": lambda r: r.token_id,
        "owner": lambda r: r.username,
        "subject": lambda r: r.subject,
        "expiry": lambda r: r.expiry if r.expiry is not None else float("inf"),
    }
    if order_by not in keys:
        raise AccessError(400, f"order_by must be one of {', '.join(keys)}")
    descending = (request.param("descending_order") or "false").lower() == "true"
    records.sort(key=keys[order_by], reverse=descending)
    return Reply.json(200, {"tokens": [r.info() for r in records]})


def _target(state: State, caller: Caller, token_id: str) -> TokenRecord | None:
    """The saved token ``token_id`` names (``me`` = the caller's token), or None."""
    return state.saved(caller.record.token_id if token_id == "me" else token_id)


def _get(state: State, request: Request, caller: Caller | None, params: dict[str, str]) -> Reply:
    caller = _required(caller)
    record = _target(state, caller, params["token_id"])
    if record is None:
        raise AccessError(404, "Token not found")
    if not _visible(caller, record):
        raise AccessError(403, "No permission to get this token")
    return Reply.json(200, record.info())


# ---- revoke (JFrog REST APIs: "Revoke Token by ID", "Revoke Token by Value") -------------------------------------


def _revoke(state: State, caller: Caller, record: TokenRecord | None, how: str, body: Any) -> Reply:
    if record is None or not record.persisted:
        raise unknown_token(state)
    if not _visible(caller, record):
        raise AccessError(403, "No permission to revoke this token")
    if record.revoked:
        return Reply(204)  # "204 - Token has already been revoked"
    if not record.revocable:
        if state.policy.non_revocable == "refuse":
            raise AccessError(400, "Token is not revocable: its expiry is below the revocable threshold")
        return Reply.json(200, body)  # "ignore": answered as revoked, stays valid until it expires
    state.revoke(record, how)
    return Reply.json(200, body)


def unknown_token(state: State) -> AccessError:
    """An unknown (or unsaved) token: 404, or 204 with ``unknown_revoke_status=204``."""
    if state.policy.unknown_revoke_status == 204:
        return _NoContent()
    return AccessError(404, "Token not found")


class _NoContent(AccessError):
    def __init__(self) -> None:
        super().__init__(204, "")

    def reply(self) -> Reply:
        return Reply(204)


def _revoke_by_id(state: State, request: Request, caller: Caller | None, params: dict[str, str]) -> Reply:
    """``DELETE /access/api/v1/tokens/{id|me}``: 200 revoked, 204 already revoked; users revoke their own tokens,
    admins any."""
    caller = _required(caller)
    token_id = caller.record.token_id if params["token_id"] == "me" else params["token_id"]
    return _revoke(state, caller, state.tokens.get(token_id), "id", None)


def _revoke_by_value(state: State, request: Request, caller: Caller | None, params: dict[str, str]) -> Reply:
    """``DELETE /access/api/v1/tokens/revoke`` with ``{"token": "<JWT or reference token>"}`` (Consumes:
    application/json); answers ``{"revoked-token-id": …}``. "Requires admin permissions" unless
    ``revoke_by_value_admin_only=False``."""
    caller = _required(caller)
    if request.content_type != "application/json":
        raise AccessError(415, "Content-Type must be application/json")
    data = request.json_object()
    if data is None or not isinstance(data.get("token"), str) or not data["token"]:
        raise AccessError(400, 'Body must be {"token": "<token value>"}')
    if state.policy.revoke_by_value_admin_only and not caller.is_admin:
        raise AccessError(403, "Revoking a token by value requires admin permissions")
    record, verdict = state.find(data["token"])
    if verdict == "foreign":
        raise AccessError(400, "The token was issued by a different instance and cannot be revoked")
    body = None if record is None else {"revoked-token-id": record.token_id}
    return _revoke(state, caller, record, "value", body)


ROUTES = _route_table()
