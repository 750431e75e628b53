"""Secrets API handlers: ``/api/2.0/secrets/...`` (docs/platforms.md sections 1.3 and 1.4)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from simulators.databricks.api import ApiError, ApiRequest, bad_param, denied, not_found, route
from simulators.databricks.state import PERMISSION_RANK, Principal, Scope, Secret, WorkspaceState

NAME_RE = re.compile(r"[A-Za-z0-9_.@-]{1,128}")
PACKAGE_SCOPE = "databricks-package-management"
_PREFIX = "/api/2.0/secrets"


def _valid_name(value: str) -> bool:
    return bool(NAME_RE.fullmatch(value))


def _scope(ws: WorkspaceState, name: str) -> Scope:
    found = ws.scopes.get(name.lower())
    if found is None:
        raise not_found(f"Scope {name} does not exist!")
    return found


def _need(ws: WorkspaceState, scope: Scope, who: Principal, permission: str, action: str) -> None:
    if ws.scope_permission(scope, who) < PERMISSION_RANK[permission]:
        raise denied(f"User {who.user_name} does not have {permission} permission on scope {scope.name} to {action}.")


@route("POST", f"{_PREFIX}/scopes/create")
def create_scope(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Create a scope; the creator gets MANAGE."""
    name = req.text("scope")
    if not _valid_name(name):
        raise bad_param(
            f"Scope name '{name}' is invalid: it must consist of alphanumeric characters, dashes, "
            "underscores, periods and @, and may not exceed 128 characters."
        )
    manage = req.get("initial_manage_principal")
    if manage not in (None, "", "users"):
        raise bad_param(
            f"Invalid initial_manage_principal '{manage}': only 'users' is supported for Databricks-backed scopes."
        )
    backend = req.get("scope_backend_type") or "DATABRICKS"
    if backend not in ("DATABRICKS", "AZURE_KEYVAULT"):
        raise bad_param(f"Invalid scope_backend_type '{backend}'.")
    if backend == "AZURE_KEYVAULT" and not req.get("backend_azure_keyvault"):
        raise bad_param("backend_azure_keyvault is required for AZURE_KEYVAULT scopes.")
    if name.lower() == PACKAGE_SCOPE and not req.principal.admin:
        raise denied(f"Only workspace admins can create the scope {PACKAGE_SCOPE}.")
    if name.lower() in ws.scopes:
        raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Scope {name} already exists!")
    if len(ws.scopes) >= ws.max_scopes:
        raise ApiError(
            400,
            "RESOURCE_LIMIT_EXCEEDED",
            f"Cannot create more than {ws.max_scopes} secret scopes in this workspace.",
        )
    scope = Scope(name=name, backend_type=backend)
    creator = req.principal.user_name
    scope.acls[creator.lower()] = (creator, "MANAGE")
    if manage == "users":
        scope.acls["users"] = ("users", "MANAGE")
    ws.scopes[name.lower()] = scope
    return {}


@route("GET", f"{_PREFIX}/scopes/list")
def list_scopes(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Every scope name is visible to every user; ``{}`` when there are none."""
    scopes = [{"name": s.name, "backend_type": s.backend_type} for s in ws.scopes.values()]
    return {"scopes": scopes} if scopes else {}


@route("POST", f"{_PREFIX}/scopes/delete")
def delete_scope(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Delete a scope with its secrets and ACLs (MANAGE)."""
    scope = _scope(ws, req.text("scope"))
    _need(ws, scope, req.principal, "MANAGE", "delete it")
    del ws.scopes[scope.name.lower()]
    return {}


def _secret_value(ws: WorkspaceState, req: ApiRequest) -> bytes:
    string_value = req.get("string_value")
    bytes_value = req.get("bytes_value")
    if (string_value is None) == (bytes_value is None):
        raise bad_param("Exactly one of string_value or bytes_value must be specified.")
    if string_value is not None:
        if not isinstance(string_value, str):
            raise bad_param("string_value must be a string.")
        value = string_value.encode("utf-8")
    else:
        if not isinstance(bytes_value, str):
            raise bad_param("bytes_value must be a base64-encoded string.")
        try:
            value = base64.b64decode(bytes_value, validate=True)
        except (binascii.Error, ValueError):
            raise bad_param("bytes_value is not valid base64.") from None
    if len(value) > ws.max_value_bytes:
        raise bad_param(f"Secret value is {len(value)} bytes, which exceeds the limit of {ws.max_value_bytes} bytes.")
    return value


@route("POST", f"{_PREFIX}/put")
def put_secret(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Create or overwrite a secret (WRITE), stamped with the workspace clock in whole seconds."""
    scope = _scope(ws, req.text("scope"))
    key = req.text("key")
    if not _valid_name(key):
        raise bad_param(
            f"Invalid key name '{key}': it must consist of alphanumeric characters, dashes, "
            "underscores, periods and @, and may not exceed 128 characters."
        )
    _need(ws, scope, req.principal, "WRITE", "put a secret")
    if scope.backend_type == "AZURE_KEYVAULT":
        raise ApiError(400, "BAD_REQUEST", "Azure KeyVault backed scopes are read-only from Databricks.")
    value = _secret_value(ws, req)
    previous = scope.secrets.get(key.lower())
    if previous is None and len(scope.secrets) >= ws.max_secrets_per_scope:
        raise ApiError(
            400,
            "RESOURCE_LIMIT_EXCEEDED",
            f"Cannot put more than {ws.max_secrets_per_scope} secrets in scope {scope.name}.",
        )
    # Milliseconds on the wire, but the platform may keep whole seconds: the stricter variant rounds down, so two
    # puts in the same second carry the same timestamp (REST reference "List secret keys": "milliseconds since
    # epoch"; its own example, 1520467595000, is a whole second).
    stamp = ws.now_ms() // 1000 * 1000
    canonical = previous.key if previous is not None else key
    scope.secrets[key.lower()] = Secret(canonical, value, stamp)
    return {}


@route("GET", f"{_PREFIX}/list")
def list_secrets(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Keys with ms timestamps (READ); ``{}`` when empty."""
    scope = _scope(ws, req.text("scope"))
    _need(ws, scope, req.principal, "READ", "list secrets")
    secrets = [{"key": s.key, "last_updated_timestamp": s.last_updated_timestamp} for s in scope.secrets.values()]
    return {"secrets": secrets} if secrets else {}


@route("POST", f"{_PREFIX}/delete")
def delete_secret(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Delete a secret (WRITE)."""
    scope = _scope(ws, req.text("scope"))
    key = req.text("key")
    _need(ws, scope, req.principal, "WRITE", "delete a secret")
    if scope.secrets.pop(key.lower(), None) is None:
        raise not_found(f"Secret {key} does not exist in scope {scope.name}!")
    return {}


@route("GET", f"{_PREFIX}/get")
def get_secret(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Refused outside notebooks, as the real service does for API callers."""
    scope = _scope(ws, req.text("scope"))
    req.text("key")
    _need(ws, scope, req.principal, "READ", "read a secret")
    raise ApiError(
        400,
        "BAD_REQUEST",
        "Secret values can only be read from within a Databricks notebook or job (DBUtils).",
    )


@route("POST", f"{_PREFIX}/acls/put")
def put_acl(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Create or overwrite an ACL (MANAGE)."""
    scope = _scope(ws, req.text("scope"))
    principal = req.text("principal")
    permission = req.text("permission").upper()
    if permission not in PERMISSION_RANK:
        raise bad_param(f"Invalid permission '{permission}': use READ, WRITE or MANAGE.")
    _need(ws, scope, req.principal, "MANAGE", "change its ACLs")
    if not ws.premium:
        # Docs "Secret ACLs": fine-grained ACLs need the Premium plan or above. The exact error of a Standard
        # workspace is not documented; BAD_REQUEST is this simulator's choice.
        raise ApiError(400, "BAD_REQUEST", "Secret ACLs are only available on the Premium plan or above.")
    if not ws.principal_exists(principal):
        # REST reference "Create/update an ACL": the principal is an existing user or group; INVALID_PARAMETER_VALUE
        # when it is invalid.
        raise bad_param(f"Principal {principal} does not exist.")
    scope.acls[principal.lower()] = (principal, permission)
    return {}


@route("GET", f"{_PREFIX}/acls/get")
def get_acl(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """One ACL (MANAGE)."""
    scope = _scope(ws, req.text("scope"))
    principal = req.text("principal")
    _need(ws, scope, req.principal, "MANAGE", "read its ACLs")
    entry = scope.acls.get(principal.lower())
    if entry is None:
        raise not_found(f"No ACL for principal {principal} on scope {scope.name}.")
    return {"principal": entry[0], "permission": entry[1]}


@route("GET", f"{_PREFIX}/acls/list")
def list_acls(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """All ACLs (MANAGE); ``{}`` when empty."""
    scope = _scope(ws, req.text("scope"))
    _need(ws, scope, req.principal, "MANAGE", "read its ACLs")
    items = [{"principal": p, "permission": perm} for p, perm in scope.acls.values()]
    return {"items": items} if items else {}


@route("POST", f"{_PREFIX}/acls/delete")
def delete_acl(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Delete an ACL (MANAGE)."""
    scope = _scope(ws, req.text("scope"))
    principal = req.text("principal")
    _need(ws, scope, req.principal, "MANAGE", "change its ACLs")
    if scope.acls.pop(principal.lower(), None) is None:
        raise not_found(f"No ACL for principal {principal} on scope {scope.name}.")
    return {}
