"""Scanning a Databricks workspace for index URLs pasted by hand (read only; docs/platforms.md §1.6, §1.7).

What is read, one :class:`ScanSource` each, so a part that fails resolves nothing of the others:

- ``clusters``: every cluster of ``GET /api/2.1/clusters/list`` (paginated by ``page_token``), its
  ``spark_env_vars``, ``spark_conf`` and ``init_scripts`` destinations. Only the env vars of a cluster users may
  edit (not a job, pipeline, SQL or model-serving cluster) are editable by Feedkeeper;
- ``libraries``: ``GET /api/2.0/libraries/all-cluster-statuses``, each library's ``pypi.repo`` (REST reference
  "Libraries": a PyPI library's ``repo`` is "the repository where the package can be found");
- ``policies``: ``GET /api/2.0/policies/clusters/list``, each policy's ``definition`` (a JSON document sent as a
  string) and its ``libraries``;
- ``jobs``: ``GET /api/2.1/jobs/list?expand_tasks=true`` (paginated by ``page_token`` while ``has_more``), the
  ``new_cluster`` of each job cluster and task, and the tasks' libraries. Feedkeeper never edits them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from targets.adapters.base import AdapterError, ScanSource, ScanValue
from targets.adapters.databricks.config import NON_EDITABLE_SOURCES
from targets.adapters.databricks_api import DatabricksClient

CLUSTERS_PAGE_SIZE = 100  # the Clusters API's largest page
JOBS_PAGE_SIZE = 100  # Jobs API "List jobs": limit 1-100
MAX_PAGES = 1000
INIT_SCRIPT_KINDS = ("workspace", "volumes", "dbfs", "s3", "abfss", "gcs", "file")


def scan_workspace(api: DatabricksClient) -> list[ScanSource]:
    """Every part of the workspace, each read on its own (see the module's docstring)."""
    return [
        _source("clusters", lambda: _clusters(api)),
        _source("libraries", lambda: _libraries(api)),
        _source("policies", lambda: _policies(api)),
        _source("jobs", lambda: _jobs(api)),
    ]


def _source(name: str, read: Any) -> ScanSource:
    try:
        return ScanSource(name, list(read()))
    except AdapterError as exc:
        return ScanSource(name, error=str(exc))


def cluster_values(prefix: str, spec: dict[str, Any], place: dict[str, str], *, editable: bool) -> Iterator[ScanValue]:
    """The env vars, Spark conf and init-script destinations of a cluster spec (a cluster or a job's
    ``new_cluster``). Only env vars may be editable: Feedkeeper's wiring re-points an env var, nothing else."""
    for name, value in sorted((spec.get("spark_env_vars") or {}).items()):
        if isinstance(value, str):
            where = {**place, "field": "spark_env_vars", "name": str(name)}
            yield ScanValue(f"{prefix} spark_env_vars.{name}", value, where, editable)
    for name, value in sorted((spec.get("spark_conf") or {}).items()):
        if isinstance(value, str):
            yield ScanValue(f"{prefix} spark_conf.{name}", value, {**place, "field": "spark_conf", "name": str(name)})
    for index, script in enumerate(spec.get("init_scripts") or []):
        for kind in INIT_SCRIPT_KINDS:
            destination = (script or {}).get(kind) if isinstance(script, dict) else None
            if isinstance(destination, dict) and isinstance(destination.get("destination"), str):
                where = {**place, "field": "init_scripts", "name": f"{index}.{kind}"}
                yield ScanValue(f"{prefix} init_scripts[{index}].{kind}", destination["destination"], where)


def _library_values(prefix: str, libraries: list[Any], place: dict[str, str]) -> Iterator[ScanValue]:
    for library in libraries or []:
        pypi = (library or {}).get("pypi") if isinstance(library, dict) else None
        if isinstance(pypi, dict) and isinstance(pypi.get("repo"), str):
            package = str(pypi.get("package") or "?")
            where = {**place, "field": "libraries", "name": package}
            yield ScanValue(f"{prefix} library pypi {package} repo", pypi["repo"], where)


def _clusters(api: DatabricksClient) -> Iterator[ScanValue]:
    params: dict[str, Any] = {"page_size": CLUSTERS_PAGE_SIZE}
    for _ in range(MAX_PAGES):
        body = api.call("GET", "/api/2.1/clusters/list", params=params)
        for cluster in body.get("clusters") or []:
            cid = str(cluster.get("cluster_id") or "")
            source = str(cluster.get("cluster_source") or "")
            editable = source not in NON_EDITABLE_SOURCES
            place = {"kind": "cluster", "cluster_id": cid, "cluster_source": source}
            label = "job cluster" if source == "JOB" else "cluster"
            yield from cluster_values(f"{label} {cid}", cluster, place, editable=editable)
        token = body.get("next_page_token")
        if not token:
            return
        params = {"page_size": CLUSTERS_PAGE_SIZE, "page_token": token}
    raise AdapterError(f"The clusters list has more than {MAX_PAGES} pages.", permanent=False)


def _libraries(api: DatabricksClient) -> Iterator[ScanValue]:
    body = api.call("GET", "/api/2.0/libraries/all-cluster-statuses")
    for status in body.get("statuses") or []:
        cid = str(status.get("cluster_id") or "")
        libraries = [s.get("library") for s in status.get("library_statuses") or [] if isinstance(s, dict)]
        yield from _library_values(f"cluster {cid}", libraries, {"kind": "library", "cluster_id": cid})


def _walk(document: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted path, string)`` for every string inside a JSON document."""
    if isinstance(document, str):
        yield path, document
    elif isinstance(document, dict):
        for key, value in document.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _walk(value, f"{path}[{index}]")


def _policies(api: DatabricksClient) -> Iterator[ScanValue]:
    body = api.call("GET", "/api/2.0/policies/clusters/list")
    for policy in body.get("policies") or []:
        pid = str(policy.get("policy_id") or "")
        place = {"kind": "policy", "policy_id": pid}
        for field in ("definition", "policy_family_definition_overrides"):
            raw = policy.get(field)
            if not isinstance(raw, str) or not raw:
                continue
            try:
                document = json.loads(raw)
            except ValueError:
                yield ScanValue(f"policy {pid} {field}", raw, {**place, "field": field})
                continue
            for path, value in _walk(document):
                yield ScanValue(f"policy {pid} {field}.{path}", value, {**place, "field": field, "name": path})
        yield from _library_values(f"policy {pid}", policy.get("libraries") or [], place)


def _jobs(api: DatabricksClient) -> Iterator[ScanValue]:
    params: dict[str, Any] = {"limit": JOBS_PAGE_SIZE, "expand_tasks": "true"}
    for _ in range(MAX_PAGES):
        body = api.call("GET", "/api/2.1/jobs/list", params=params)
        for job in body.get("jobs") or []:
            jid = str(job.get("job_id") or "")
            settings = job.get("settings") or {}
            place = {"kind": "job", "job_id": jid}
            for cluster in settings.get("job_clusters") or []:
                key = str(cluster.get("job_cluster_key") or "?")
                spec = cluster.get("new_cluster") or {}
                yield from cluster_values(f"job {jid} job_cluster {key}", spec, place, editable=False)
            for task in settings.get("tasks") or []:
                key = str(task.get("task_key") or "?")
                yield from cluster_values(f"job {jid} task {key}", task.get("new_cluster") or {}, place, editable=False)
                yield from _library_values(f"job {jid} task {key}", task.get("libraries") or [], place)
        token = body.get("next_page_token")
        if not body.get("has_more") or not token:
            return
        params = {"limit": JOBS_PAGE_SIZE, "expand_tasks": "true", "page_token": token}
    raise AdapterError(f"The jobs list has more than {MAX_PAGES} pages.", permanent=False)
