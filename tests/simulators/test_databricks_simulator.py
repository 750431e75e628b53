"""The Databricks simulator, driven by the official databricks-sdk to prove it speaks the real API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import (
    BadRequest,
    InternalError,
    InvalidParameterValue,
    InvalidState,
    NotFound,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from databricks.sdk.service import compute, workspace

from demo.processes import free_port_run
from simulators.databricks import DEFAULT_TOKEN, DatabricksSimulator, WorkspaceState

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_SCOPE = "databricks-package-management"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient DATABRICKS_*/ARM_* settings or ~/.databrickscfg may leak into the SDK."""
    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "ARM_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def sim() -> Iterator[DatabricksSimulator]:
    """One running workspace."""
    with DatabricksSimulator(workspaces=1) as running:
        yield running


@pytest.fixture
def ws(sim: DatabricksSimulator) -> WorkspaceState:
    """State of the single workspace."""
    return sim.workspace(0)


def pat_client(url: str, token: str = DEFAULT_TOKEN) -> WorkspaceClient:
    """An SDK client with short, bounded timeouts."""
    cfg = Config(host=url, token=token, auth_type="pat", retry_timeout_seconds=5, http_timeout_seconds=5)
    return WorkspaceClient(config=cfg)


@pytest.fixture
def w(sim: DatabricksSimulator) -> WorkspaceClient:
    """Admin PAT client of workspace 0."""
    return pat_client(sim.urls[0])


@pytest.fixture
def reader(ws: WorkspaceState, sim: DatabricksSimulator) -> WorkspaceClient:
    """A non-admin user's client."""
    ws.add_token("dapi-reader", user="reader@example.com", admin=False)
    return pat_client(sim.urls[0], "dapi-reader")


def raw(sim: DatabricksSimulator, token: str | None = DEFAULT_TOKEN) -> httpx.Client:
    """A plain HTTP client for wire-level assertions."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=sim.urls[0], headers=headers, timeout=5)


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ----- host metadata and authentication -----------------------------------------------------------


def test_the_host_metadata_points_the_sdk_at_the_workspace_oidc_endpoint(sim: DatabricksSimulator) -> None:
    answer = httpx.get(f"{sim.urls[0]}/.well-known/databricks-config")
    assert answer.status_code == 200
    body = answer.json()
    assert body["oidc_endpoint"] == f"{sim.urls[0]}/oidc"
    assert body["workspace_id"].isdigit()
    discovery = httpx.get(f"{sim.urls[0]}/oidc/.well-known/oauth-authorization-server").json()
    assert discovery["token_endpoint"] == f"{sim.urls[0]}/oidc/v1/token"
    assert "authorization_endpoint" in discovery


def test_a_bad_token_raises_permission_denied_with_an_integer_error_code(sim: DatabricksSimulator) -> None:
    with pytest.raises(PermissionDenied):
        list(pat_client(sim.urls[0], "dapi-wrong").secrets.list_scopes())
    answer = raw(sim, "dapi-wrong").get("/api/2.0/secrets/scopes/list")
    assert answer.status_code == 403
    assert answer.json() == {"error_code": 403, "message": "Invalid access token."}
    assert answer.headers["X-Databricks-Reason-Phrase"] == "Invalid access token."


def test_an_expired_token_is_refused(ws: WorkspaceState, sim: DatabricksSimulator) -> None:
    ws.add_token("dapi-old", expiry_ms=ws.now_ms() - 1)
    with pytest.raises(PermissionDenied):
        pat_client(sim.urls[0], "dapi-old").current_user.me()


def test_a_request_without_credentials_gets_401_unauthenticated(sim: DatabricksSimulator) -> None:
    answer = raw(sim, token=None).get("/api/2.0/secrets/scopes/list")
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "UNAUTHENTICATED"


def test_an_oauth_m2m_client_gets_one_token_and_reuses_it(ws: WorkspaceState, sim: DatabricksSimulator) -> None:
    ws.add_service_principal("sp-app-id", "sp-secret", admin=True)
    cfg = Config(
        host=sim.urls[0],
        client_id="sp-app-id",
        client_secret="sp-secret",
        auth_type="oauth-m2m",
        retry_timeout_seconds=5,
        http_timeout_seconds=5,
    )
    client = WorkspaceClient(config=cfg)
    me = client.current_user.me()
    client.secrets.create_scope(scope="from-sp")
    list(client.secrets.list_scopes())
    assert me.user_name == "sp-app-id"
    assert ws.oauth_tokens_issued == 1
    assert ws.acl("from-sp", "sp-app-id") == "MANAGE"


def test_a_bad_oauth_client_is_refused_with_invalid_client(ws: WorkspaceState, sim: DatabricksSimulator) -> None:
    ws.add_service_principal("sp-app-id", "sp-secret")
    answer = httpx.post(
        f"{sim.urls[0]}/oidc/v1/token",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        auth=("sp-app-id", "wrong"),
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    good = httpx.post(
        f"{sim.urls[0]}/oidc/v1/token",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        auth=("sp-app-id", "sp-secret"),
    ).json()
    assert good["token_type"] == "Bearer" and good["expires_in"] == 3600 and good["scope"] == "all-apis"
    assert raw(sim, good["access_token"]).get("/api/2.0/preview/scim/v2/Me").status_code == 200


# ----- secrets ------------------------------------------------------------------------------------


def test_a_new_scope_is_listed_and_its_creator_holds_manage(w: WorkspaceClient, ws: WorkspaceState) -> None:
    w.secrets.create_scope(scope="Feeds")
    assert [(s.name, s.backend_type) for s in w.secrets.list_scopes()] == [
        ("Feeds", workspace.ScopeBackendType.DATABRICKS)
    ]
    assert ws.acl("feeds", "admin@example.com") == "MANAGE"


def test_a_duplicate_scope_is_refused_with_resource_already_exists(
    w: WorkspaceClient, sim: DatabricksSimulator
) -> None:
    w.secrets.create_scope(scope="feeds")
    with pytest.raises(ResourceAlreadyExists, match="Scope FEEDS already exists!"):
        w.secrets.create_scope(scope="FEEDS")
    answer = raw(sim).post("/api/2.0/secrets/scopes/create", json={"scope": "feeds"})
    assert answer.status_code == 400
    assert answer.json() == {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "Scope feeds already exists!"}


def test_an_invalid_scope_name_or_manage_principal_is_refused(w: WorkspaceClient) -> None:
    with pytest.raises(InvalidParameterValue):
        w.secrets.create_scope(scope="bad name!")
    with pytest.raises(InvalidParameterValue):
        w.secrets.create_scope(scope="x" * 129)
    with pytest.raises(BadRequest):
        w.secrets.create_scope(scope="ok", initial_manage_principal="admins")
    w.secrets.create_scope(scope="ok", initial_manage_principal="users")
    assert {a.principal for a in w.secrets.list_acls(scope="ok")} == {"admin@example.com", "users"}


def test_a_put_secret_is_listed_with_a_millisecond_timestamp_and_never_echoed(
    w: WorkspaceClient, ws: WorkspaceState
) -> None:
    w.secrets.create_scope(scope=PACKAGE_SCOPE)
    before = int(time.time() * 1000)
    w.secrets.put_secret(scope=PACKAGE_SCOPE, key="pip-index-url", string_value="https://u:t@feed/simple/")
    listed = list(w.secrets.list_secrets(scope=PACKAGE_SCOPE))
    assert [s.key for s in listed] == ["pip-index-url"]
    assert before // 1000 * 1000 <= listed[0].last_updated_timestamp <= int(time.time() * 1000)
    assert ws.secret_value(PACKAGE_SCOPE, "PIP-INDEX-URL") == "https://u:t@feed/simple/"
    assert ws.secret_timestamp(PACKAGE_SCOPE, "pip-index-url") == listed[0].last_updated_timestamp
    w.secrets.put_secret(scope=PACKAGE_SCOPE, key="pip-cert", bytes_value="aGVsbG8=")
    assert ws.secret_value(PACKAGE_SCOPE, "pip-cert") == "hello"


def test_timestamps_have_one_second_precision_and_never_go_back(w: WorkspaceClient, ws: WorkspaceState) -> None:
    # REST reference "List secret keys": ms since epoch, yet its example is a whole second; the simulator takes the
    # stricter variant (whole seconds), so puts in the same second keep the same timestamp.
    w.secrets.create_scope(scope="s")
    ws.frozen_ms = 1_700_000_000_400
    stamps = []
    for i in range(3):
        w.secrets.put_secret(scope="s", key="k", string_value=str(i))
        stamps.append(ws.secret_timestamp("s", "k"))
    assert stamps == [1_700_000_000_000] * 3
    ws.frozen_ms += 1_000
    w.secrets.put_secret(scope="s", key="k", string_value="later")
    assert ws.secret_timestamp("s", "k") == 1_700_000_001_000
    assert [s.last_updated_timestamp for s in w.secrets.list_secrets(scope="s")] == [1_700_000_001_000]


def test_an_empty_scope_lists_as_an_empty_body(w: WorkspaceClient, sim: DatabricksSimulator) -> None:
    w.secrets.create_scope(scope="empty")
    assert raw(sim).get("/api/2.0/secrets/list", params={"scope": "empty"}).json() == {}
    assert list(w.secrets.list_secrets(scope="empty")) == []


def test_a_missing_scope_raises_resource_does_not_exist(w: WorkspaceClient, sim: DatabricksSimulator) -> None:
    with pytest.raises(ResourceDoesNotExist, match="Scope nope does not exist!"):
        w.secrets.put_secret(scope="nope", key="k", string_value="v")
    with pytest.raises(NotFound):
        list(w.secrets.list_secrets(scope="nope"))
    answer = raw(sim).get("/api/2.0/secrets/list", params={"scope": "nope"})
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_put_needs_exactly_one_value_a_valid_key_and_a_small_enough_value(w: WorkspaceClient) -> None:
    w.secrets.create_scope(scope="s")
    with pytest.raises(InvalidParameterValue):
        w.secrets.put_secret(scope="s", key="k")
    with pytest.raises(InvalidParameterValue):
        w.secrets.put_secret(scope="s", key="k", string_value="a", bytes_value="YQ==")
    with pytest.raises(InvalidParameterValue):
        w.secrets.put_secret(scope="s", key="bad/key", string_value="a")
    with pytest.raises(InvalidParameterValue):
        w.secrets.put_secret(scope="s", key="k", string_value="x" * (128 * 1024 + 1))
    w.secrets.put_secret(scope="s", key="k", string_value="x" * (128 * 1024))


def test_the_secret_and_scope_limits_answer_resource_limit_exceeded(
    w: WorkspaceClient, ws: WorkspaceState, sim: DatabricksSimulator
) -> None:
    ws.max_secrets_per_scope = 2
    ws.max_scopes = 1
    w.secrets.create_scope(scope="s")
    w.secrets.put_secret(scope="s", key="a", string_value="1")
    w.secrets.put_secret(scope="s", key="b", string_value="2")
    w.secrets.put_secret(scope="s", key="A", string_value="overwrite is fine")
    answer = raw(sim).post("/api/2.0/secrets/put", json={"scope": "s", "key": "c", "string_value": "3"})
    assert (answer.status_code, answer.json()["error_code"]) == (400, "RESOURCE_LIMIT_EXCEEDED")
    with pytest.raises(BadRequest):
        w.secrets.create_scope(scope="second")


def test_reading_a_secret_value_through_the_api_is_refused_with_bad_request(w: WorkspaceClient) -> None:
    w.secrets.create_scope(scope="s")
    w.secrets.put_secret(scope="s", key="k", string_value="v")
    with pytest.raises(BadRequest):
        w.secrets.get_secret(scope="s", key="k")


def test_acls_can_be_put_overwritten_listed_and_deleted(w: WorkspaceClient, sim: DatabricksSimulator) -> None:
    w.secrets.create_scope(scope=PACKAGE_SCOPE)
    w.secrets.put_acl(scope=PACKAGE_SCOPE, principal="users", permission=workspace.AclPermission.WRITE)
    w.secrets.put_acl(scope=PACKAGE_SCOPE, principal="users", permission=workspace.AclPermission.READ)
    assert w.secrets.get_acl(scope=PACKAGE_SCOPE, principal="users").permission == workspace.AclPermission.READ
    assert {(a.principal, a.permission.value) for a in w.secrets.list_acls(scope=PACKAGE_SCOPE)} == {
        ("admin@example.com", "MANAGE"),
        ("users", "READ"),
    }
    w.secrets.delete_acl(scope=PACKAGE_SCOPE, principal="users")
    with pytest.raises(ResourceDoesNotExist):
        w.secrets.get_acl(scope=PACKAGE_SCOPE, principal="users")
    w.secrets.delete_acl(scope=PACKAGE_SCOPE, principal="admin@example.com")
    assert raw(sim).get("/api/2.0/secrets/acls/list", params={"scope": PACKAGE_SCOPE}).json() == {}


def test_a_non_admin_needs_admin_for_the_package_scope_and_write_to_put(
    w: WorkspaceClient, reader: WorkspaceClient
) -> None:
    with pytest.raises(PermissionDenied):
        reader.secrets.create_scope(scope=PACKAGE_SCOPE)
    w.secrets.create_scope(scope=PACKAGE_SCOPE)
    w.secrets.put_acl(scope=PACKAGE_SCOPE, principal="users", permission=workspace.AclPermission.READ)
    assert list(reader.secrets.list_secrets(scope=PACKAGE_SCOPE)) == []
    with pytest.raises(PermissionDenied):
        reader.secrets.put_secret(scope=PACKAGE_SCOPE, key="pip-index-url", string_value="x")
    with pytest.raises(PermissionDenied):
        list(reader.secrets.list_acls(scope=PACKAGE_SCOPE))
    reader.secrets.create_scope(scope="mine")
    reader.secrets.put_secret(scope="mine", key="k", string_value="v")


def test_deleting_secrets_and_scopes_removes_them(w: WorkspaceClient, ws: WorkspaceState) -> None:
    w.secrets.create_scope(scope="s")
    w.secrets.put_secret(scope="s", key="k", string_value="v")
    w.secrets.delete_secret(scope="s", key="K")
    assert ws.secret_value("s", "k") is None
    with pytest.raises(ResourceDoesNotExist):
        w.secrets.delete_secret(scope="s", key="k")
    w.secrets.delete_scope(scope="s")
    assert list(w.secrets.list_scopes()) == []


# ----- faults and latency --------------------------------------------------------------------------


def test_a_429_with_retry_after_is_retried_by_the_sdk_and_succeeds(w: WorkspaceClient, ws: WorkspaceState) -> None:
    w.secrets.create_scope(scope="s")
    ws.faults.add(status=429, count=1, path_contains="/secrets/put", retry_after=1)
    started = time.monotonic()
    w.secrets.put_secret(scope="s", key="k", string_value="v")
    assert time.monotonic() - started >= 1
    assert ws.requests.count(("POST", "/api/2.0/secrets/put")) == 2
    assert ws.secret_value("s", "k") == "v"


def test_a_429_answer_has_the_documented_body_and_retry_after(ws: WorkspaceState, sim: DatabricksSimulator) -> None:
    ws.faults.add(status=429, count=1, retry_after=7)
    answer = raw(sim).get("/api/2.0/secrets/scopes/list")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert raw(sim).get("/api/2.0/secrets/scopes/list").status_code == 200


def test_an_injected_500_is_raised_at_once_and_leaves_state_unchanged(w: WorkspaceClient, ws: WorkspaceState) -> None:
    ws.faults.add(status=500, count=1, path_contains="/scopes/create")
    with pytest.raises(InternalError):
        w.secrets.create_scope(scope="s")
    assert ws.scopes == {}
    w.secrets.create_scope(scope="s")


def test_a_timeout_fault_hangs_past_the_client_timeout_then_drops(ws: WorkspaceState, sim: DatabricksSimulator) -> None:
    ws.faults.add(status="timeout", count=1, hang=2)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(
            f"{sim.urls[0]}/api/2.0/secrets/scopes/list",
            headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
            timeout=0.3,
        )
    assert raw(sim).get("/api/2.0/secrets/scopes/list").status_code == 200


def test_random_faults_are_repeatable_with_the_same_seed(sim: DatabricksSimulator) -> None:
    def run() -> list[int]:
        sim.workspace(0).faults.rate(0.5, statuses=(500, 503), seed=42)
        with raw(sim) as client:
            return [client.get("/api/2.0/secrets/scopes/list").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert {200, 500, 503} <= set(first)
    sim.workspace(0).faults.rate(0)
    assert raw(sim).get("/.well-known/databricks-config").status_code == 200


def test_latency_delays_api_requests_but_not_the_control_api(ws: WorkspaceState, sim: DatabricksSimulator) -> None:
    # A wide margin: a loaded CI machine may take a few hundred ms to answer anything.
    httpx.post(f"{sim.urls[0]}/_sim/latency", json={"seconds": 1.5})
    started = time.monotonic()
    httpx.get(f"{sim.urls[0]}/_sim/state")
    assert time.monotonic() - started < 1.2
    started = time.monotonic()
    raw(sim).get("/api/2.0/secrets/scopes/list")
    assert time.monotonic() - started >= 1.5


# ----- clusters and policies ---------------------------------------------------------------------


def test_clusters_are_listed_with_pagination_and_state_filters(w: WorkspaceClient, ws: WorkspaceState) -> None:
    running = [ws.add_cluster(name=f"run-{i}") for i in range(3)]
    ws.add_cluster(name="down", state="TERMINATED")
    ws.add_cluster(name="job", cluster_source="JOB")
    page = raw_list = httpx.get(
        f"{ws.url}/api/2.1/clusters/list",
        params={"page_size": 2},
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
    ).json()
    assert len(page["clusters"]) == 2 and "spec" not in page["clusters"][0] and raw_list["next_page_token"]
    assert len(list(w.clusters.list(page_size=2))) == 5
    filtered = w.clusters.list(
        filter_by=compute.ListClustersFilterBy(
            cluster_states=[compute.State.RUNNING], cluster_sources=[compute.ClusterSource.UI]
        )
    )
    assert sorted(c.cluster_id for c in filtered) == sorted(running)
    terminated = list(
        w.clusters.list(filter_by=compute.ListClustersFilterBy(cluster_states=[compute.State.TERMINATED]))
    )
    assert [c.cluster_name for c in terminated] == ["down"]
    assert terminated[0].terminated_time is not None


def test_getting_a_cluster_returns_cluster_details_with_spec(w: WorkspaceClient, ws: WorkspaceState) -> None:
    cid = ws.add_cluster(name="etl", spark_env_vars={"A": "1"})
    details = w.clusters.get(cluster_id=cid)
    assert details.state == compute.State.RUNNING
    assert details.spark_version == "15.4.x-scala2.12"
    assert details.cluster_source == compute.ClusterSource.UI
    assert details.spark_env_vars == {"A": "1"}
    assert details.spec is not None and details.spec.spark_env_vars == {"A": "1"}
    assert details.creator_user_name == "admin@example.com" and details.start_time and details.last_restarted_time


def test_getting_an_unknown_cluster_raises_resource_does_not_exist(
    w: WorkspaceClient, sim: DatabricksSimulator
) -> None:
    with pytest.raises(ResourceDoesNotExist):
        w.clusters.get(cluster_id="0000-000000-missing")
    answer = raw(sim).get("/api/2.0/clusters/get", params={"cluster_id": "x"})
    assert answer.status_code == 400
    assert answer.json() == {"error_code": "INVALID_PARAMETER_VALUE", "message": "Cluster x does not exist"}


def test_updating_spark_env_vars_of_a_running_cluster_replaces_the_map_and_restarts_it(
    w: WorkspaceClient, ws: WorkspaceState
) -> None:
    cid = ws.add_cluster(name="etl", spark_env_vars={"OLD": "1"}, start_time=ws.now_ms() - 60_000)
    w.secrets.create_scope(scope="s")  # a reference must name a scope the owner may read
    before = w.clusters.get(cluster_id=cid)
    w.clusters.update(
        cluster_id=cid,
        update_mask="spark_env_vars",
        cluster=compute.UpdateClusterResource(spark_env_vars={"DATABRICKS_PIP_INDEX_URL": "{{secrets/s/k}}"}),
    )
    after = w.clusters.get(cluster_id=cid)
    assert after.spark_env_vars == {"DATABRICKS_PIP_INDEX_URL": "{{secrets/s/k}}"}
    assert after.state == compute.State.RUNNING
    assert after.last_restarted_time > before.last_restarted_time
    assert after.cluster_name == "etl"
    assert ws.restarts == {cid: 1}


def test_updating_a_terminated_cluster_keeps_it_terminated_until_start(w: WorkspaceClient, ws: WorkspaceState) -> None:
    cid = ws.add_cluster(name="down", state="TERMINATED")
    w.clusters.update(
        cluster_id=cid, update_mask="spark_env_vars", cluster=compute.UpdateClusterResource(spark_env_vars={"A": "1"})
    )
    assert w.clusters.get(cluster_id=cid).state == compute.State.TERMINATED
    assert ws.restarts == {}
    w.clusters.start(cluster_id=cid)
    started = w.clusters.get(cluster_id=cid)
    assert started.state == compute.State.RUNNING
    # start_time is the creation time (SDK ClusterDetails); a start stamps the restart and the driver's state loss.
    assert started.start_time is not None and started.last_restarted_time is not None
    assert started.last_restarted_time == started.last_state_loss_time > started.start_time
    with pytest.raises(InvalidState):
        w.clusters.start(cluster_id=cid)


def test_a_job_cluster_cannot_be_edited(w: WorkspaceClient, ws: WorkspaceState) -> None:
    cid = ws.add_cluster(name="job", cluster_source="JOB")
    with pytest.raises(InvalidParameterValue, match="cannot be edited"):
        w.clusters.update(
            cluster_id=cid, update_mask="spark_env_vars", cluster=compute.UpdateClusterResource(spark_env_vars={})
        )
    assert ws.restarts == {}


def test_a_cluster_in_a_transitional_state_answers_invalid_state(w: WorkspaceClient, ws: WorkspaceState) -> None:
    cid = ws.add_cluster(name="etl", state="PENDING")
    with pytest.raises(InvalidState):
        w.clusters.update(
            cluster_id=cid, update_mask="spark_env_vars", cluster=compute.UpdateClusterResource(spark_env_vars={})
        )


def test_a_full_edit_needs_a_size_and_resets_omitted_fields(w: WorkspaceClient, ws: WorkspaceState) -> None:
    cid = ws.add_cluster(name="etl", spark_env_vars={"A": "1"}, spark_conf={"x": "y"})
    with pytest.raises(InvalidParameterValue, match="Exactly 1 of"):
        w.clusters.edit(cluster_id=cid, spark_version="15.4.x-scala2.12")
    w.clusters.edit(cluster_id=cid, spark_version="15.4.x-scala2.12", num_workers=2, cluster_name="etl2")
    details = w.clusters.get(cluster_id=cid)
    assert (details.cluster_name, details.num_workers, details.spark_conf) == ("etl2", 2, None)
    assert details.spark_env_vars == {}
    assert ws.restarts == {cid: 1}


def test_restart_is_only_for_running_clusters(w: WorkspaceClient, ws: WorkspaceState) -> None:
    up, down = ws.add_cluster(name="up"), ws.add_cluster(name="down", state="TERMINATED")
    w.clusters.restart(cluster_id=up)
    with pytest.raises(InvalidState):
        w.clusters.restart(cluster_id=down)
    assert ws.restarts == {up: 1}


def test_cluster_policies_keep_the_definition_as_a_string_and_reject_bad_json(
    w: WorkspaceClient, reader: WorkspaceClient
) -> None:
    definition = json.dumps(
        {"spark_env_vars.DATABRICKS_PIP_INDEX_URL": {"type": "fixed", "value": "{{secrets/s/k}}", "hidden": True}}
    )
    created = w.cluster_policies.create(name="pip", definition=definition)
    fetched = w.cluster_policies.get(policy_id=created.policy_id)
    assert (fetched.name, fetched.definition) == ("pip", definition)
    with pytest.raises(InvalidParameterValue):
        w.cluster_policies.create(name="broken", definition="{not json")
    w.cluster_policies.edit(policy_id=created.policy_id, name="pip", definition="{}")
    assert [p.definition for p in w.cluster_policies.list()] == ["{}"]
    with pytest.raises(PermissionDenied):
        reader.cluster_policies.create(name="nope", definition="{}")
    with pytest.raises(ResourceDoesNotExist):
        w.cluster_policies.get(policy_id="ABCDEF0123456789")


# ----- tokens and identity -----------------------------------------------------------------------


def test_tokens_can_be_created_listed_used_and_deleted(w: WorkspaceClient, sim: DatabricksSimulator) -> None:
    created = w.tokens.create(comment="feedkeeper", lifetime_seconds=3600)
    assert created.token_value and created.token_info.comment == "feedkeeper"
    infos = {t.token_id: t for t in w.tokens.list()}
    assert infos[created.token_info.token_id].expiry_time > infos[created.token_info.token_id].creation_time
    assert any(t.expiry_time == -1 for t in infos.values())
    assert pat_client(sim.urls[0], created.token_value).current_user.me().user_name == "admin@example.com"
    w.tokens.delete(token_id=created.token_info.token_id)
    with pytest.raises(PermissionDenied):
        pat_client(sim.urls[0], created.token_value).current_user.me()
    with pytest.raises(ResourceDoesNotExist):
        w.tokens.delete(token_id="nope")


def test_token_management_lists_every_token_for_admins_only(w: WorkspaceClient, reader: WorkspaceClient) -> None:
    users = {t.created_by_username for t in w.token_management.list()}
    assert users == {"admin@example.com", "reader@example.com"}
    with pytest.raises(PermissionDenied):
        list(reader.token_management.list())


def test_current_user_me_reports_admin_group_membership(w: WorkspaceClient, reader: WorkspaceClient) -> None:
    me = w.current_user.me()
    assert me.user_name == "admin@example.com" and me.active
    assert [g.display for g in me.groups] == ["admins"]
    assert me.emails[0].value == "admin@example.com"
    assert not reader.current_user.me().groups


# ----- simulator-level behaviour ----------------------------------------------------------------


def test_clock_skew_shifts_every_timestamp_the_workspace_issues(w: WorkspaceClient, ws: WorkspaceState) -> None:
    ws.clock_skew_ms = -3_600_000
    w.secrets.create_scope(scope="s")
    w.secrets.put_secret(scope="s", key="k", string_value="v")
    cid = ws.add_cluster(name="etl")
    now = int(time.time() * 1000)
    assert abs(ws.secret_timestamp("s", "k") - (now - 3_600_000)) < 5_000
    assert abs(w.clusters.get(cluster_id=cid).start_time - (now - 3_600_000)) < 5_000


def test_workspaces_are_independent_and_found_by_url() -> None:
    with DatabricksSimulator(workspaces=3) as many:
        assert len(set(many.urls)) == 3
        pat_client(many.urls[1]).secrets.create_scope(scope="only-here")
        assert many.workspace_by_url(many.urls[1] + "/") is many.workspace(1)
        assert "only-here" in many.workspace(1).scopes and many.workspace(0).scopes == {}
        ids = {httpx.get(f"{u}/.well-known/databricks-config").json()["workspace_id"] for u in many.urls}
        assert len(ids) == 3


def test_unknown_paths_answer_endpoint_not_found_and_wrong_methods_405(sim: DatabricksSimulator) -> None:
    client = raw(sim)
    missing = client.get("/api/2.0/nope")
    assert missing.status_code == 404 and missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert client.get("/api/2.0/secrets/put").status_code == 405
    malformed = client.post("/api/2.0/secrets/put", content=b"[1]", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400


def test_the_control_api_seeds_clusters_tokens_and_faults(ws: WorkspaceState, sim: DatabricksSimulator) -> None:
    control = httpx.Client(base_url=f"{sim.urls[0]}/_sim")
    cid = control.post("/clusters", json={"name": "etl", "state": "RUNNING"}).json()["cluster_id"]
    assert control.post(f"/clusters/{cid}/state", json={"state": "TERMINATED"}).status_code == 200
    token = control.post("/tokens", json={"token": "dapi-x", "admin": False}).json()["token"]
    assert pat_client(sim.urls[0], token).clusters.get(cluster_id=cid).state == compute.State.TERMINATED
    control.post("/faults", json={"status": 503, "count": 1, "path_contains": "/clusters/get"})
    assert raw(sim).get("/api/2.1/clusters/get", params={"cluster_id": cid}).status_code == 503
    control.post("/faults", json={"rate": 1.0, "statuses": [500]})
    assert raw(sim).get("/api/2.0/token/list").status_code == 500
    control.post("/faults", json={"clear": True})
    state = control.get("/state").json()
    assert state["clusters"][0]["state"] == "TERMINATED"
    assert {t["token"] for t in state["tokens"]} == {DEFAULT_TOKEN, "dapi-x"}
    assert control.post("/clusters/nope/state", json={"state": "RUNNING"}).status_code == 404


def test_concurrent_puts_are_thread_safe(w: WorkspaceClient, ws: WorkspaceState) -> None:
    w.secrets.create_scope(scope="s")
    errors: list[BaseException] = []

    def put(i: int) -> None:
        try:
            for j in range(5):
                w.secrets.put_secret(scope="s", key=f"k{i}", string_value=str(j))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(list(w.secrets.list_secrets(scope="s"))) == 8


def test_stop_closes_the_ports() -> None:
    sim = DatabricksSimulator().start()
    url = sim.urls[0]
    assert httpx.get(f"{url}/.well-known/databricks-config").status_code == 200
    sim.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/.well-known/databricks-config", timeout=1)


def test_the_cli_starts_answers_and_stops_on_sigterm() -> None:
    port = free_port_run(2)  # the simulator binds PORT and PORT+1: both must be free
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.databricks",
            "--port",
            str(port),
            "--workspaces",
            "2",
            "--clusters",
            "3",
            "--token",
            "dapi-cli",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        assert lines == [
            f"workspace 0: http://127.0.0.1:{port} token=dapi-cli",
            f"workspace 1: http://127.0.0.1:{port + 1} token=dapi-cli",
        ]
        clusters = pat_client(f"http://127.0.0.1:{port + 1}", "dapi-cli").clusters.list()
        sources = sorted(c.cluster_source.value for c in clusters)
        assert sources == ["JOB", "UI", "UI"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ----- platform rules added for wiring (docs "Use a secret in a Spark configuration property or environment
# variable", Requirements; Cluster Policies API "Update a cluster policy"; SDK ClusterSource) ------------------------


def _env(value: str) -> compute.UpdateClusterResource:
    return compute.UpdateClusterResource(spark_env_vars={"DATABRICKS_PIP_INDEX_URL": value})


def test_only_the_owner_may_add_a_secret_reference_and_the_owner_must_read_the_scope(
    w: WorkspaceClient, ws: WorkspaceState
) -> None:
    w.secrets.create_scope(scope="s")
    theirs = ws.add_cluster(name="alice", state="TERMINATED", owner="alice@example.com")
    with pytest.raises(PermissionDenied, match="owner"):  # an admin who is not the owner is refused too
        w.clusters.update(cluster_id=theirs, update_mask="spark_env_vars", cluster=_env("{{secrets/s/k}}"))
    dedicated = ws.add_cluster(name="bob", state="TERMINATED", single_user_name="bob@example.com")
    with pytest.raises(PermissionDenied, match="READ"):
        w.clusters.update(cluster_id=dedicated, update_mask="spark_env_vars", cluster=_env("{{secrets/s/k}}"))
    ws.add_group("data-eng", ["bob@example.com"])
    w.secrets.put_acl(scope="s", principal="data-eng", permission=workspace.AclPermission.READ)
    w.clusters.update(cluster_id=dedicated, update_mask="spark_env_vars", cluster=_env("{{secrets/s/k}}"))
    assert ws.cluster(dedicated)["spark_env_vars"] == {"DATABRICKS_PIP_INDEX_URL": "{{secrets/s/k}}"}
    # A plain value needs no such rights.
    w.clusters.update(cluster_id=theirs, update_mask="spark_env_vars", cluster=_env("plain"))


def test_acls_name_existing_principals_and_need_the_premium_plan(w: WorkspaceClient, ws: WorkspaceState) -> None:
    w.secrets.create_scope(scope="s")
    with pytest.raises(InvalidParameterValue):
        w.secrets.put_acl(scope="s", principal="nobody@example.com", permission=workspace.AclPermission.READ)
    ws.premium = False
    with pytest.raises(BadRequest, match="Premium"):
        w.secrets.put_acl(scope="s", principal="users", permission=workspace.AclPermission.READ)


@pytest.mark.parametrize("source", ["JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "SQL", "MODELS"])
def test_clusters_of_services_cannot_be_edited(w: WorkspaceClient, ws: WorkspaceState, source: str) -> None:
    cid = ws.add_cluster(name="svc", state="TERMINATED", cluster_source=source)
    with pytest.raises(InvalidParameterValue):
        w.clusters.update(cluster_id=cid, update_mask="spark_env_vars", cluster=_env("x"))


def test_a_family_policy_refuses_a_definition_and_edit_replaces_every_field(w: WorkspaceClient) -> None:
    created = w.cluster_policies.create(
        name="p",
        policy_family_id="personal-vm",
        policy_family_definition_overrides=json.dumps({"a": {"type": "fixed", "value": 1}}),
        libraries=[compute.Library(pypi=compute.PythonPyPiLibrary(package="x"))],
        max_clusters_per_user=3,
    )
    policy_id = created.policy_id
    assert policy_id is not None
    got = w.cluster_policies.get(policy_id=policy_id)
    assert got.policy_family_id == "personal-vm" and got.libraries and got.max_clusters_per_user == 3
    assert got.definition is not None and set(json.loads(got.definition)) == {"node_type_id", "a"}
    with pytest.raises(InvalidParameterValue, match="policy_family"):
        w.cluster_policies.edit(policy_id=policy_id, name="p", policy_family_id="personal-vm", definition="{}")
    w.cluster_policies.edit(policy_id=policy_id, name="p", policy_family_id="personal-vm")
    edited = w.cluster_policies.get(policy_id=policy_id)
    assert not edited.libraries and edited.max_clusters_per_user is None
    assert edited.definition is not None and set(json.loads(edited.definition)) == {"node_type_id"}


def test_an_oauth_error_may_come_as_error_code_and_summary(ws: WorkspaceState, sim: DatabricksSimulator) -> None:
    ws.oauth_error_style = "okta"
    answer = httpx.post(
        f"{sim.urls[0]}/oidc/v1/token", data={"grant_type": "client_credentials"}, auth=("nobody", "wrong")
    )
    assert answer.status_code == 401
    assert answer.json() == {"errorCode": "invalid_client", "errorSummary": "Client authentication failed."}
