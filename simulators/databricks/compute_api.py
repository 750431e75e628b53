"""Clusters and cluster-policy handlers (docs/platforms.md sections 1.6 and 1.7).

Clusters answer on both ``/api/2.1/clusters/...`` and ``/api/2.0/clusters/...``. Restarts are
instant: editing a RUNNING cluster stamps ``last_restarted_time`` and counts in ``ws.restarts``.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from simulators.databricks.api import ApiError, ApiRequest, bad_param, denied, not_found, route
from simulators.databricks.state import (
    DEFAULT_SPARK_VERSION,
    EDITABLE_CLUSTER_FIELDS,
    Cluster,
    Policy,
    WorkspaceState,
)

MAP_FIELDS = frozenset({"spark_env_vars", "spark_conf", "custom_tags"})
MAX_PAGE_SIZE = 100
THIRTY_DAYS_MS = 30 * 24 * 3_600_000


def _paths(op: str) -> tuple[str, str]:
    return f"/api/2.1/clusters/{op}", f"/api/2.0/clusters/{op}"


def _cluster(ws: WorkspaceState, cluster_id: str) -> Cluster:
    found = ws.clusters.get(cluster_id)
    if found is None:
        raise bad_param(f"Cluster {cluster_id} does not exist")
    return found


def _invalid_state(cluster: Cluster) -> ApiError:
    return ApiError(
        400,
        "INVALID_STATE",
        f"Cluster {cluster.cluster_id} is in unexpected state {cluster.state.capitalize()}.",
    )


def _check_owner(req: ApiRequest, cluster: Cluster) -> None:
    who = req.principal
    owners = {cluster.creator_user_name.lower(), str(cluster.attributes.get("single_user_name", "")).lower()}
    if not who.admin and who.user_name.lower() not in owners:
        raise denied(f"User {who.user_name} does not have Manage permission on cluster {cluster.cluster_id}.")


def _editable(ws: WorkspaceState, req: ApiRequest) -> Cluster:
    cluster = _cluster(ws, req.text("cluster_id"))
    if cluster.cluster_source == "JOB":
        raise bad_param(
            f"Cluster {cluster.cluster_id} was created by the Databricks Jobs service; job clusters cannot be edited."
        )
    _check_owner(req, cluster)
    if cluster.state not in ("RUNNING", "TERMINATED"):
        raise _invalid_state(cluster)
    return cluster


def _apply(ws: WorkspaceState, cluster: Cluster, attributes: dict[str, Any]) -> None:
    """Store new attributes/spec; a RUNNING cluster restarts, a TERMINATED one stays down."""
    cluster.attributes = attributes
    cluster.spec = {k: copy.deepcopy(v) for k, v in attributes.items() if k in EDITABLE_CLUSTER_FIELDS}
    if cluster.state == "RUNNING":
        ws.restart_cluster(cluster)


@route("GET", *_paths("get"))
def get_cluster(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """ClusterDetails with ``spec``."""
    return _cluster(ws, req.text("cluster_id")).details()


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        kind, _, offset = text.partition(":")
        if kind != "offset" or int(offset) < 0:
            raise ValueError
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise bad_param(f"Invalid page_token: {token}") from None


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


@route("GET", *_paths("list"))
def list_clusters(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Paginated, filtered list (dotted ``filter_by.*`` / ``sort_by.*`` query keys)."""
    states = {s.upper() for s in req.values("filter_by.cluster_states")}
    sources = {s.upper() for s in req.values("filter_by.cluster_sources")}
    policy_id = req.get("filter_by.policy_id")
    pinned = req.get("filter_by.is_pinned")
    now = ws.now_ms()
    chosen = []
    for cluster in ws.clusters.values():
        if cluster.state == "TERMINATED" and not cluster.pinned and cluster.terminated_time is not None:
            if cluster.terminated_time < now - THIRTY_DAYS_MS:
                continue
        if states and cluster.state not in states:
            continue
        if sources and cluster.cluster_source not in sources:
            continue
        if policy_id and cluster.attributes.get("policy_id") != policy_id:
            continue
        if pinned is not None and (pinned.lower() == "true") != cluster.pinned:
            continue
        chosen.append(cluster)
    if (req.get("sort_by.field") or "").upper() == "CLUSTER_NAME":
        chosen.sort(key=lambda c: str(c.attributes.get("cluster_name", "")).lower())
    if (req.get("sort_by.direction") or "").upper() == "DESC":
        chosen.reverse()
    page_size = req.integer("page_size") or MAX_PAGE_SIZE
    if page_size < 0:
        raise bad_param("page_size must be positive")
    page_size = min(page_size, MAX_PAGE_SIZE)
    token = req.get("page_token")
    offset = _decode_token(token) if token else 0
    page = chosen[offset : offset + page_size]
    out: dict[str, Any] = {}
    if page:
        out["clusters"] = [c.details(with_spec=False) for c in page]
    if offset + page_size < len(chosen):
        out["next_page_token"] = _encode_token(offset + page_size)
    if offset > 0:
        out["prev_page_token"] = _encode_token(max(0, offset - page_size))
    return out


@route("POST", *_paths("update"))
def update_cluster(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Partial update by ``update_mask``; map fields are replaced as a whole."""
    cluster = _editable(ws, req)
    mask = req.text("update_mask")
    given = req.get("cluster") or {}
    if not isinstance(given, dict):
        raise bad_param("cluster must be an object")
    attributes = copy.deepcopy(cluster.attributes)
    paths = mask.split(",")
    if "*" in paths:
        attributes = {k: copy.deepcopy(v) for k, v in given.items() if k in EDITABLE_CLUSTER_FIELDS}
    else:
        for path in paths:
            top, _, sub = path.partition(".")
            if top not in EDITABLE_CLUSTER_FIELDS or (sub and top in MAP_FIELDS) or path != path.strip():
                raise bad_param(f"Invalid update_mask field: '{path}'")
            if not sub:
                if top in given:
                    attributes[top] = copy.deepcopy(given[top])
                else:
                    attributes.pop(top, None)
                continue
            source = given.get(top) or {}
            target = attributes.setdefault(top, {})
            if not isinstance(target, dict) or not isinstance(source, dict):
                raise bad_param(f"Invalid update_mask field: '{path}'")
            if sub in source:
                target[sub] = copy.deepcopy(source[sub])
            else:
                target.pop(sub, None)
    _apply(ws, cluster, attributes)
    return {}


@route("POST", *_paths("edit"))
def edit_cluster(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Full replacement: every omitted attribute is reset."""
    cluster = _editable(ws, req)
    req.text("spark_version")
    sizes = [k for k in ("num_workers", "autoscale", "virtual_cluster_size") if req.body.get(k) is not None]
    if len(sizes) != 1:
        raise bad_param("Exactly 1 of virtual_cluster_size, num_workers or autoscale must be specified.")
    attributes = {k: copy.deepcopy(v) for k, v in req.body.items() if k in EDITABLE_CLUSTER_FIELDS}
    _apply(ws, cluster, attributes)
    return {}


@route("POST", *_paths("start"))
def start_cluster(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """TERMINATED -> RUNNING at once, stamping start and restart times."""
    cluster = _cluster(ws, req.text("cluster_id"))
    _check_owner(req, cluster)
    if cluster.state != "TERMINATED":
        raise _invalid_state(cluster)
    ws.set_cluster_state(cluster.cluster_id, "RUNNING")
    return {}


@route("POST", *_paths("restart"))
def restart_cluster(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Restart a RUNNING cluster (instant; counted in ``ws.restarts``)."""
    cluster = _cluster(ws, req.text("cluster_id"))
    _check_owner(req, cluster)
    if cluster.state != "RUNNING":
        raise _invalid_state(cluster)
    ws.restart_cluster(cluster)
    return {}


@route("POST", *_paths("delete"))
def terminate_cluster(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Terminate (not remove) a cluster."""
    cluster = _cluster(ws, req.text("cluster_id"))
    _check_owner(req, cluster)
    ws.set_cluster_state(cluster.cluster_id, "TERMINATED")
    return {}


@route("POST", *_paths("create"))
def create_cluster(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Create a cluster that is RUNNING at once (cluster_source API)."""
    name = req.text("cluster_name", required=False) or "cluster"
    extra = {
        k: copy.deepcopy(v)
        for k, v in req.body.items()
        if k in EDITABLE_CLUSTER_FIELDS and k not in ("cluster_name", "spark_version", "spark_env_vars")
    }
    cluster_id = ws.add_cluster(
        name=name,
        spark_version=req.text("spark_version", required=False) or DEFAULT_SPARK_VERSION,
        cluster_source="API",
        spark_env_vars=req.body.get("spark_env_vars") or {},
        owner=req.principal.user_name,
        **extra,
    )
    return {"cluster_id": cluster_id}


# ----- cluster policies -------------------------------------------------------------------------
_POLICIES = "/api/2.0/policies/clusters"


def _definition(req: ApiRequest) -> str:
    definition = req.get("definition")
    if definition is None or definition == "":
        return "{}"
    if not isinstance(definition, str):
        raise bad_param("definition must be a JSON document sent as a string")
    try:
        parsed = json.loads(definition)
    except ValueError as exc:
        raise bad_param(f"Invalid policy definition: {exc}") from None
    if not isinstance(parsed, dict):
        raise bad_param("Invalid policy definition: expected a JSON object")
    return definition


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
    definition = _definition(req)
    _unique_name(ws, name)
    policy_id = ws.new_hex(16).upper()
    ws.policies[policy_id] = Policy(
        policy_id=policy_id,
        name=name,
        definition=definition,
        creator_user_name=req.principal.user_name,
        created_at_timestamp=ws.now_ms(),
        description=req.text("description", required=False),
        max_clusters_per_user=req.integer("max_clusters_per_user"),
    )
    return {"policy_id": policy_id}


@route("POST", f"{_POLICIES}/edit")
def edit_policy(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Replace a policy's name, definition and description (admins)."""
    _admin_only(req)
    policy = _policy(ws, req.text("policy_id"))
    name = req.text("name")
    definition = _definition(req)
    _unique_name(ws, name, policy.policy_id)
    policy.name = name
    policy.definition = definition
    policy.description = req.text("description", required=False)
    policy.max_clusters_per_user = req.integer("max_clusters_per_user")
    return {}


@route("GET", f"{_POLICIES}/get")
def get_policy(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """One policy."""
    return _policy(ws, req.text("policy_id")).as_dict()


@route("GET", f"{_POLICIES}/list")
def list_policies(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """All policies."""
    policies = [p.as_dict() for p in ws.policies.values()]
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
