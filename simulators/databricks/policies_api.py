"""Cluster-policy handlers: ``/api/2.0/policies/clusters/...`` (docs/platforms.md section 1.6)."""

from __future__ import annotations

import copy
import json
from typing import Any

from simulators.databricks.api import ApiRequest, bad_param, denied, not_found, route
from simulators.databricks.state import Policy, WorkspaceState

_POLICIES = "/api/2.0/policies/clusters"


def _definition(req: ApiRequest, name: str = "definition") -> str:
    definition = req.get(name)
    if definition is None or definition == "":
        return "{}"
    if not isinstance(definition, str):
        raise bad_param(f"{name} must be a JSON document sent as a string")
    try:
        parsed = json.loads(definition)
    except ValueError as exc:
        raise bad_param(f"Invalid policy definition: {exc}") from None
    if not isinstance(parsed, dict):
        raise bad_param("Invalid policy definition: expected a JSON object")
    return definition


# Fields of a policy that create/edit take besides name, definition and the family ones, kept as given (the SDK's
# CreatePolicy/EditPolicy: description, libraries, max_clusters_per_user; auto_enforcement_config is kept too).
_KEPT = ("auto_enforcement_config",)


def _fill(ws: WorkspaceState, req: ApiRequest, policy: Policy) -> None:
    """Set every field of ``policy`` from a create/edit body: edit is a full replacement, an omitted field is reset.
    ``policy_family_id`` "cannot be used with definition" (Cluster Policies API reference, "Update a cluster
    policy"): the family's definition plus ``policy_family_definition_overrides`` make the policy's."""
    family = req.get("policy_family_id") or None
    if family is not None:
        if req.get("definition") not in (None, ""):
            raise bad_param(
                "definition cannot be used together with policy_family_id; "
                "use policy_family_definition_overrides to customize the policy definition."
            )
        if family not in ws.policy_families:
            raise bad_param(f"Policy family {family} does not exist.")
        policy.definition = "{}"
        overrides = _definition(req, "policy_family_definition_overrides")
        policy.policy_family_definition_overrides = overrides if req.get("policy_family_definition_overrides") else None
    else:
        if req.get("policy_family_definition_overrides") not in (None, ""):
            raise bad_param("policy_family_definition_overrides needs policy_family_id.")
        policy.definition = _definition(req)
        policy.policy_family_definition_overrides = None
    policy.policy_family_id = family
    policy.description = req.text("description", required=False)
    policy.max_clusters_per_user = req.integer("max_clusters_per_user")
    libraries = req.get("libraries")
    if libraries is not None and not isinstance(libraries, list):
        raise bad_param("libraries must be a list")
    policy.libraries = copy.deepcopy(libraries) or None
    policy.extra = {k: copy.deepcopy(req.get(k)) for k in _KEPT if req.get(k) is not None}


def _admin_only(req: ApiRequest) -> None:
    if not req.principal.admin:
        raise denied(f"User {req.principal.user_name} is not a workspace admin.")


def _policy(ws: WorkspaceState, policy_id: str) -> Policy:
    found = ws.policies.get(policy_id)
    if found is None:
        raise not_found(f"Can't find a cluster policy with id: {policy_id}.")
    return found


def _unique_name(ws: WorkspaceState, name: str, policy_id: str | None = None) -> None:
    for policy in ws.policies.values():
        if policy.name.lower() == name.lower() and policy.policy_id != policy_id:
            raise bad_param(f"Cluster policy with name '{name}' already exists.")


@route("POST", f"{_POLICIES}/create")
def create_policy(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Create a policy (admins); ``definition`` must parse as a JSON object."""
    _admin_only(req)
    name = req.text("name")
    _unique_name(ws, name)
    policy_id = ws.new_hex(16).upper()
    policy = Policy(
        policy_id=policy_id,
        name=name,
        definition="{}",
        creator_user_name=req.principal.user_name,
        created_at_timestamp=ws.now_ms(),
    )
    _fill(ws, req, policy)
    ws.policies[policy_id] = policy
    return {"policy_id": policy_id}


@route("POST", f"{_POLICIES}/edit")
def edit_policy(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Replace a policy's fields (admins): a full replacement, as the SDK's ``edit`` documents."""
    _admin_only(req)
    policy = _policy(ws, req.text("policy_id"))
    name = req.text("name")
    _unique_name(ws, name, policy.policy_id)
    edited = copy.deepcopy(policy)
    _fill(ws, req, edited)
    edited.name = name
    ws.policies[policy.policy_id] = edited
    return {}


@route("GET", f"{_POLICIES}/get")
def get_policy(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """One policy."""
    policy = _policy(ws, req.text("policy_id"))
    return policy.as_dict(ws.policy_families.get(policy.policy_family_id or ""))


@route("GET", f"{_POLICIES}/list")
def list_policies(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """All policies."""
    policies = [p.as_dict(ws.policy_families.get(p.policy_family_id or "")) for p in ws.policies.values()]
    out: dict[str, Any] = {"total_count": len(policies)}
    if policies:
        out["policies"] = policies
    return out


@route("POST", f"{_POLICIES}/delete")
def delete_policy(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Delete a policy (admins)."""
    _admin_only(req)
    policy = _policy(ws, req.text("policy_id"))
    del ws.policies[policy.policy_id]
    return {}
