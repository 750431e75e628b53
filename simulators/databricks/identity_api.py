"""Identity handlers: host metadata, OIDC (M2M), PATs, token management and SCIM ``Me``.

docs/platforms.md sections 1.1 and 1.8.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from simulators.databricks.api import ApiError, ApiRequest, denied, not_found, route
from simulators.databricks.state import Principal, Token, WorkspaceState


def base_url(ws: WorkspaceState, req: ApiRequest) -> str:
    """The URL the client used to reach us (Host header), falling back to the bound URL."""
    host = req.headers.get("host")
    return f"http://{host}" if host else ws.url


@route("GET", "/.well-known/databricks-config", public=True)
def host_metadata(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """What ``Config()`` probes before anything else."""
    return {"oidc_endpoint": f"{base_url(ws, req)}/oidc", "workspace_id": ws.workspace_id}


@route("GET", "/oidc/.well-known/oauth-authorization-server", public=True)
def oidc_discovery(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """OIDC discovery document."""
    oidc = f"{base_url(ws, req)}/oidc"
    return {
        "issuer": oidc,
        "authorization_endpoint": f"{oidc}/v1/authorize",
        "token_endpoint": f"{oidc}/v1/token",
        "jwks_uri": f"{oidc}/jwks.json",
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }


def _oauth_error(status: int, error: str, description: str, style: str = "oauth") -> ApiError:
    """An OAuth error: ``{error, error_description}`` (RFC 6749), or with ``style="okta"`` the
    ``{errorCode, errorSummary}`` shape databricks-sdk also reads (oauth.py, ``retrieve_token``)."""
    if style == "okta":
        return ApiError(status, error, description, payload={"errorCode": error, "errorSummary": description})
    return ApiError(status, error, description, payload={"error": error, "error_description": description})


def _client_credentials(req: ApiRequest) -> tuple[str, str]:
    header = req.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _oauth_error(401, "invalid_client", "Malformed HTTP Basic credentials.") from None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return str(req.body.get("client_id") or ""), str(req.body.get("client_secret") or "")


@route("POST", "/oidc/v1/token", public=True)
def oidc_token(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """client_credentials grant (HTTP Basic or form credentials)."""
    grant = req.body.get("grant_type")
    if grant != "client_credentials":
        raise _oauth_error(
            400, "unsupported_grant_type", f"Grant type '{grant}' is not supported.", ws.oauth_error_style
        )
    client_id, secret = _client_credentials(req)
    token = ws.issue_oauth_token(client_id, secret)
    if token is None:
        raise _oauth_error(401, "invalid_client", "Client authentication failed.", ws.oauth_error_style)
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ws.oauth_token_lifetime_s,
        "scope": str(req.body.get("scope") or "all-apis"),
    }


def _public_info(token: Token) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "creation_time": token.creation_time,
        "expiry_time": token.expiry_time,
        "comment": token.comment,
    }


def _admin_info(ws: WorkspaceState, token: Token) -> dict[str, Any]:
    user_id = int(token.principal.user_id)
    return {
        **_public_info(token),
        "created_by_id": user_id,
        "created_by_username": token.principal.user_name,
        "owner_id": user_id,
        "workspace_id": int(ws.workspace_id),
    }


def _own(ws: WorkspaceState, who: Principal) -> list[Token]:
    return [t for t in ws.tokens.values() if t.principal.user_name.lower() == who.user_name.lower()]


@route("GET", "/api/2.0/token/list")
def list_tokens(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """The caller's own PATs; ``{}`` when there are none."""
    infos = [_public_info(t) for t in _own(ws, req.principal)]
    return {"token_infos": infos} if infos else {}


@route("POST", "/api/2.0/token/create")
def create_token(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Mint a PAT that is usable at once."""
    who = req.principal
    if len(_own(ws, who)) >= ws.max_tokens_per_user:
        raise ApiError(400, "QUOTA_EXCEEDED", f"Cannot create more than {ws.max_tokens_per_user} tokens.")
    lifetime = req.integer("lifetime_seconds")
    comment = req.text("comment", required=False)
    expiry = ws.now_ms() + lifetime * 1000 if lifetime and lifetime > 0 else None
    value = "dapi" + ws.new_hex(32)
    ws.add_token(value, user=who.user_name, admin=who.admin, expiry_ms=expiry, comment=comment)
    return {"token_value": value, "token_info": _public_info(ws.tokens[value])}


def _by_id(ws: WorkspaceState, token_id: str, tokens: list[Token] | None = None) -> Token:
    for token in tokens if tokens is not None else list(ws.tokens.values()):
        if token.token_id == token_id:
            return token
    raise not_found(f"Token with id {token_id} does not exist.")


@route("POST", "/api/2.0/token/delete")
def delete_token(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Revoke one of the caller's PATs."""
    token = _by_id(ws, req.text("token_id"), _own(ws, req.principal))
    del ws.tokens[token.value]
    return {}


def _admin_only(req: ApiRequest) -> None:
    if not req.principal.admin:
        raise denied(f"User {req.principal.user_name} is not a workspace admin.")


@route("GET", "/api/2.0/token-management/tokens")
def manage_list_tokens(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Every PAT in the workspace (admins), optionally filtered by creator."""
    _admin_only(req)
    by_name = (req.get("created_by_username") or "").lower()
    by_id = req.get("created_by_id")
    infos = [
        _admin_info(ws, t)
        for t in ws.tokens.values()
        if (not by_name or t.principal.user_name.lower() == by_name)
        and (not by_id or t.principal.user_id == str(by_id))
    ]
    return {"token_infos": infos} if infos else {}


@route("GET", "/api/2.0/token-management/tokens/{token_id}")
def manage_get_token(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """One PAT (admins)."""
    _admin_only(req)
    return {"token_info": _admin_info(ws, _by_id(ws, req.path_params["token_id"]))}


@route("DELETE", "/api/2.0/token-management/tokens/{token_id}")
def manage_delete_token(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Revoke any PAT (admins)."""
    _admin_only(req)
    token = _by_id(ws, req.path_params["token_id"])
    del ws.tokens[token.value]
    return {}


@route("GET", "/api/2.0/preview/scim/v2/Me")
def scim_me(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """The caller as a SCIM user; admins are members of ``admins``."""
    who = req.principal
    if who.service_principal:
        display = f"Service principal {who.user_name}"
    else:
        display = who.user_name.split("@")[0].replace(".", " ").title()
    out: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": who.user_id,
        "userName": who.user_name,
        "displayName": display,
        "active": True,
        "emails": [] if who.service_principal else [{"value": who.user_name, "type": "work", "primary": True}],
        "groups": [],
        "entitlements": [{"value": "workspace-access"}, {"value": "databricks-sql-access"}],
    }
    if who.admin:
        out["groups"] = [{"display": "admins", "type": "direct", "value": "1000", "$ref": "Groups/1000"}]
        out["entitlements"].append({"value": "allow-cluster-create"})
    return out
