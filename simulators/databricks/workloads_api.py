"""Libraries and Jobs handlers: what runs on clusters and which clusters jobs create (read only, for scans).

- Libraries API (REST reference "Libraries": "Get all statuses", "Get status"; SDK ``LibrariesAPI``):
  ``GET /api/2.0/libraries/all-cluster-statuses`` -> ``{"statuses": [{"cluster_id", "library_statuses": [...]}]}``
  (only clusters that have libraries); ``GET /api/2.0/libraries/cluster-status?cluster_id=`` ->
  ``{"cluster_id", "library_statuses": [{"library", "status", "is_library_for_all_clusters"}]}``. An unknown cluster
  gets 400 ``INVALID_PARAMETER_VALUE``, as ``clusters/get`` does.
- Jobs API (REST reference "List jobs"; SDK ``JobsAPI.list`` calls ``/api/2.2/jobs/list``, older clients
  ``/api/2.1/jobs/list``): ``limit`` 1-100 (default 20; outside the range 400), ``page_token`` (opaque),
  ``expand_tasks`` (without it ``settings.tasks`` and ``settings.job_clusters`` are left out), ``name`` (exact,
  case-insensitive). The answer is ``{"jobs", "has_more", "next_page_token", "prev_page_token"}``; an empty page
  leaves ``jobs`` out.

Seed from Python with :func:`install_library` and :func:`add_job`.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from simulators.databricks.api import ApiRequest, bad_param, route
from simulators.databricks.state import WorkspaceState

DEFAULT_JOBS_LIMIT = 20
MAX_JOBS_LIMIT = 100
_EXPANDED = ("tasks", "job_clusters")


def install_library(ws: WorkspaceState, cluster_id: str, library: dict[str, Any], status: str = "INSTALLED") -> None:
    """Record ``library`` (e.g. ``{"pypi": {"package": "x", "repo": "https://..."}}``) on cluster ``cluster_id``."""
    with ws.lock:
        if cluster_id not in ws.clusters:
            raise KeyError(cluster_id)
        ws.libraries.setdefault(cluster_id, []).append(
            {"library": copy.deepcopy(library), "status": status, "is_library_for_all_clusters": False}
        )


def add_job(ws: WorkspaceState, settings: dict[str, Any], creator: str = "admin@example.com") -> int:
    """Create a job with ``settings`` (``name``, ``job_clusters``, ``tasks``, ...); returns its ``job_id``."""
    with ws.lock:
        job_id = 1000 + len(ws.jobs) + 1
        ws.jobs[job_id] = {
            "job_id": job_id,
            "creator_user_name": creator,
            "created_time": ws.now_ms(),
            "settings": copy.deepcopy(settings),
        }
        return job_id


def _cluster_statuses(ws: WorkspaceState, cluster_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"cluster_id": cluster_id}
    statuses = ws.libraries.get(cluster_id) or []
    if statuses:
        out["library_statuses"] = copy.deepcopy(statuses)
    return out


@route("GET", "/api/2.0/libraries/all-cluster-statuses")
def all_cluster_statuses(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Every cluster that has libraries, with their statuses."""
    statuses = [_cluster_statuses(ws, cid) for cid in ws.clusters if ws.libraries.get(cid)]
    return {"statuses": statuses} if statuses else {}


@route("GET", "/api/2.0/libraries/cluster-status")
def cluster_status(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """One cluster's libraries."""
    cluster_id = req.text("cluster_id")
    if cluster_id not in ws.clusters:
        raise bad_param(f"Cluster {cluster_id} does not exist")
    return _cluster_statuses(ws, cluster_id)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"jobs:{offset}".encode()).decode()


def _offset(token: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "jobs" or int(value) < 0:
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise bad_param(f"Invalid page token: {token}") from None


def _flag(req: ApiRequest, name: str) -> bool:
    value = req.get(name, False)
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise bad_param(f"Invalid value for field {name}: expected a boolean")


@route("GET", "/api/2.1/jobs/list", "/api/2.2/jobs/list")
def list_jobs(ws: WorkspaceState, req: ApiRequest) -> dict[str, Any]:
    """Jobs by ``job_id``, a page at a time."""
    limit = req.integer("limit", DEFAULT_JOBS_LIMIT)
    assert limit is not None
    if not 1 <= limit <= MAX_JOBS_LIMIT:
        raise bad_param(f"The limit must be between 1 and {MAX_JOBS_LIMIT}.")
    expand = _flag(req, "expand_tasks")
    name = (req.get("name") or "").lower()
    token = req.get("page_token")
    offset = _offset(token) if token else (req.integer("offset", 0) or 0)
    jobs = [ws.jobs[k] for k in sorted(ws.jobs)]
    if name:
        jobs = [j for j in jobs if str(j["settings"].get("name", "")).lower() == name]
    page = jobs[offset : offset + limit]
    out: dict[str, Any] = {"has_more": offset + limit < len(jobs)}
    if page:
        rendered = []
        for job in page:
            job = copy.deepcopy(job)
            if not expand:
                for key in _EXPANDED:
                    job["settings"].pop(key, None)
            rendered.append(job)
        out["jobs"] = rendered
    if out["has_more"]:
        out["next_page_token"] = _token(offset + limit)
    if offset > 0:
        out["prev_page_token"] = _token(max(0, offset - limit))
    return out
