"""The Databricks simulator's Libraries and Jobs APIs (what scans read), checked with the official databricks-sdk:
`w.libraries.all_cluster_statuses()`, `w.libraries.cluster_status()`, `w.jobs.list(expand_tasks=...)`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import InvalidParameterValue

from simulators.databricks import DEFAULT_TOKEN, DatabricksSimulator, WorkspaceState
from simulators.databricks.workloads_api import add_job, install_library


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "ARM_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def sim() -> Iterator[DatabricksSimulator]:
    with DatabricksSimulator(workspaces=1) as running:
        yield running


@pytest.fixture
def ws(sim: DatabricksSimulator) -> WorkspaceState:
    return sim.workspace(0)


@pytest.fixture
def w(sim: DatabricksSimulator) -> WorkspaceClient:
    cfg = Config(
        host=sim.urls[0], token=DEFAULT_TOKEN, auth_type="pat", retry_timeout_seconds=5, http_timeout_seconds=5
    )
    return WorkspaceClient(config=cfg)


def test_the_sdk_reads_every_clusters_libraries_with_their_pypi_repo(w: WorkspaceClient, ws: WorkspaceState) -> None:
    with_lib = ws.add_cluster(cluster_id="c-1")
    ws.add_cluster(cluster_id="c-2")
    install_library(ws, with_lib, {"pypi": {"package": "acme", "repo": "https://pkgs.example.com/simple/"}})
    statuses = list(w.libraries.all_cluster_statuses())
    assert [s.cluster_id for s in statuses] == ["c-1"]
    (status,) = statuses[0].library_statuses or []
    assert status.library and status.library.pypi and status.library.pypi.repo == "https://pkgs.example.com/simple/"
    assert status.status and status.status.value == "INSTALLED"
    assert [s.library.pypi.package for s in w.libraries.cluster_status("c-1") if s.library and s.library.pypi] == [
        "acme"
    ]
    assert list(w.libraries.cluster_status("c-2")) == []


def test_an_unknown_cluster_status_is_a_400_invalid_parameter_value(w: WorkspaceClient) -> None:
    with pytest.raises(InvalidParameterValue):
        list(w.libraries.cluster_status("nope"))


def test_the_sdk_lists_jobs_across_pages_and_tasks_only_when_expanded(w: WorkspaceClient, ws: WorkspaceState) -> None:
    for i in range(45):
        add_job(
            ws,
            {
                "name": f"job-{i}",
                "job_clusters": [{"job_cluster_key": "main", "new_cluster": {"spark_env_vars": {"A": "1"}}}],
            },
        )
    expanded = list(w.jobs.list(expand_tasks=True, limit=20))
    assert len(expanded) == 45 and len({j.job_id for j in expanded}) == 45
    cluster = expanded[0].settings.job_clusters[0]  # type: ignore[union-attr,index]
    assert cluster.new_cluster.spark_env_vars == {"A": "1"}  # type: ignore[union-attr]
    plain = list(w.jobs.list(limit=100))
    assert len(plain) == 45 and all(not (j.settings and j.settings.job_clusters) for j in plain)


def test_the_jobs_list_answers_the_2_1_shape_and_refuses_a_limit_over_100(
    sim: DatabricksSimulator, ws: WorkspaceState
) -> None:
    add_job(ws, {"name": "one"})
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(base_url=sim.urls[0], headers=headers) as client:
        body = client.get("/api/2.1/jobs/list", params={"limit": 5}).json()
        assert body["has_more"] is False and body["jobs"][0]["settings"] == {"name": "one"}
        refused = client.get("/api/2.1/jobs/list", params={"limit": 101})
        assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert client.get("/api/2.1/jobs/list", params={"name": "nothing"}).json() == {"has_more": False}
