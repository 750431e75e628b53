"""Clusters handlers (docs/platforms.md section 1.7; cluster policies are in policies_api.py).

Clusters answer on both ``/api/2.1/clusters/...`` and ``/api/2.0/clusters/...``. Restarts are
instant: editing a RUNNING cluster stamps ``last_restarted_time`` and counts in ``ws.restarts``.
"""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

from simulators.databricks.api import ApiError, ApiRequest, bad_param, denied, route
from simulators.databricks.state import (
    DEFAULT_SPARK_VERSION,
    EDITABLE_CLUSTER_FIELDS,
    NON_EDITABLE_SOURCES,
    Cluster,
    WorkspaceState,
)

MAP_FIELDS = frozenset({"spark_env_vars", "spark_conf", "custom_tags"})
MAX_PAGE_SIZE = 100
THIRTY_DAYS_MS = 30 * 24 * 3_600_000
SECRET_REF = re.compile(r"\{\{secrets/([^/{}]+)/([^/{}]+)\}\}")


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
    if cluster.cluster_source in NON_EDITABLE_SOURCES:
        raise bad_param(
            f"Cluster {cluster.cluster_id} was created by the {cluster.cluster_source} service and cannot be edited."
        )
    _check_owner(req, cluster)
    if cluster.state not in ("RUNNING", "TERMINATED"):
        raise _invalid_state(cluster)
    return cluster


def _references(attributes: dict[str, Any]) -> dict[tuple[str, str], str]:
    """``(field, name) -> value`` of every env var / Spark conf entry that holds a secret reference."""
    out = {}
    for top in ("spark_env_vars", "spark_conf"):
        for name, value in (attributes.get(top) or {}).items():
            if isinstance(value, str) and SECRET_REF.search(value):
                out[(top, name)] = value
    return out


def _check_references(ws: WorkspaceState, req: ApiRequest, cluster: Cluster, attributes: dict[str, Any]) -> None:
    """Docs "Use a secret in a Spark configuration property or environment variable", Requirements: "You must be a
    cluster owner to add or edit a secret in a Spark configuration property or environment variable" (admins are not
    exempted: the stricter reading) and "Cluster owners must have CAN READ permission on the secret scope". The
    owner is ``single_user_name`` when set, else ``creator_user_name``."""
    before = _references(cluster.attributes)
    changed = {k: v for k, v in _references(attributes).items() if before.get(k) != v}
    if not changed:
        return
    who = req.principal.user_name.lower()
    owners = {cluster.creator_user_name.lower(), str(cluster.attributes.get("single_user_name") or "").lower()}
    if who not in owners:
        raise denied(
            f"Only the owner of cluster {cluster.cluster_id} can add or edit a secret reference in its Spark "
            "configuration or environment variables."
        )
    owner = str(attributes.get("single_user_name") or cluster.creator_user_name)
    for value in changed.values():
        for scope_name, _key in SECRET_REF.findall(value):
            scope = ws.scopes.get(scope_name.lower())
            if scope is None:
                raise bad_param(f"Secret scope {scope_name} does not exist.")
            if ws.user_scope_permission(scope, owner) < 1:
                raise denied(f"Cluster owner {owner} does not have READ permission on secret scope {scope.name}.")


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
    _check_references(ws, req, cluster, attributes)
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
    _check_references(ws, req, cluster, attributes)
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
