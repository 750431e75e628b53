"""Secret-mode deliveries wired to clusters and policies, restart consent, and per-workspace health checks,
against the Databricks simulator over real HTTP (tasks run inline)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from feeds import services as feed_services
from simulators.databricks import DatabricksSimulator
from targets import checks, pushing, services
from targets.models import Delivery, Push, PushStatus, Target

REF = "{{secrets/platform/pypi}}"


def run_pushes(delivery: Delivery, *, consent: bool = False) -> Push:
    """Request (or reuse) a push of ``delivery`` and run it inline, as the worker would."""
    push = pushing.push_request(delivery=delivery, actor="system", restart_consent=consent)
    pushing.push_dispatch(target_id=delivery.target_id)
    pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    return push


def secret_delivery(feed: Any, target: Target, clusters: list[str], **extra: Any) -> Delivery:
    delivery = services.delivery_create(
        actor="system",
        feed=feed,
        target=target,
        mode="secret",
        scope="platform",
        key="pypi",
        clusters=clusters,
        **extra,
    )
    Push.objects.filter(delivery=delivery).delete()  # run explicitly below
    return delivery


def health(target: Target) -> dict[str, dict[str, str]]:
    check = checks.target_check_request(actor="system", target=target)
    checks.target_check_run(check_id=check.pk)
    check.refresh_from_db()
    return {r["name"]: r for r in check.results}


def test_a_running_cluster_is_wired_on_next_restart_without_consent(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    cid = ws.add_cluster(name="etl", state="RUNNING", spark_env_vars={"KEEP": "me"})
    push = run_pushes(secret_delivery(feed, workspace, [cid]))
    assert push.status == PushStatus.SUCCEEDED
    assert push.detail["clusters"] == {cid: "wired on next restart"}
    assert any("wired on next restart" in n for n in push.detail["notes"])
    assert ws.cluster(cid)["spark_env_vars"] == {"KEEP": "me"}
    assert ws.restarts.get(cid, 0) == 0


def test_consent_wires_a_running_cluster_with_a_merged_map_and_restarts_it(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    cid = ws.add_cluster(name="etl", state="RUNNING", spark_env_vars={"KEEP": "me"})
    push = run_pushes(secret_delivery(feed, workspace, [cid]), consent=True)
    assert push.detail["clusters"] == {cid: "wired; restarted"}
    assert ws.cluster(cid)["spark_env_vars"] == {"KEEP": "me", "DATABRICKS_PIP_INDEX_URL": REF}
    assert ws.restarts[cid] == 1
    from audit.models import AuditEvent

    event = AuditEvent.objects.filter(action="delivery.push").first()
    assert event is not None and any("restarted" in n for n in event.detail["notes"])


def test_terminated_clusters_are_wired_without_a_restart_and_job_and_old_clusters_are_left_alone(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    stopped = ws.add_cluster(name="nightly", state="TERMINATED")
    job = ws.add_cluster(name="job-run", state="RUNNING", cluster_source="JOB")
    old = ws.add_cluster(name="legacy", state="TERMINATED", spark_version="14.3.x-scala2.12")
    push = run_pushes(secret_delivery(feed, workspace, [stopped, job, old, "0000-000000-missing"]))
    assert push.status == PushStatus.SUCCEEDED
    states = push.detail["clusters"]
    assert states[stopped] == "wired" and ws.cluster(stopped)["spark_env_vars"] == {"DATABRICKS_PIP_INDEX_URL": REF}
    assert states[job] == "skipped: job cluster" and ws.cluster(job)["spark_env_vars"] == {}
    assert states[old].startswith("skipped: runtime") and ws.cluster(old)["spark_env_vars"] == {}
    assert states["0000-000000-missing"] == "does not exist"
    assert ws.cluster(stopped)["state"] == "TERMINATED" and ws.restarts.get(stopped, 0) == 0


def test_the_reconciler_wires_a_waiting_cluster_once_it_is_terminated(
    db: None,
    feed: Any,
    workspace: Target,
    databricks: DatabricksSimulator,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ws = databricks.workspace(0)
    cid = ws.add_cluster(name="etl", state="RUNNING")
    delivery = secret_delivery(feed, workspace, [cid])
    run_pushes(delivery)
    delivery.refresh_from_db()
    assert workspace.adapter().needs_push(delivery) is False
    ws.set_cluster_state(cid, "TERMINATED")
    assert workspace.adapter().needs_push(delivery) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert pushing.pushes_reconcile()["coverage"] == 1
    assert ws.cluster(cid)["spark_env_vars"] == {"DATABRICKS_PIP_INDEX_URL": REF}


def test_a_cluster_policy_fixes_the_env_var_to_the_reference(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    created = httpx.post(
        f"{databricks.urls[0]}/api/2.0/policies/clusters/create",
        headers={"Authorization": "Bearer dapi-sim-token"},
        json={"name": "std", "definition": json.dumps({"spark_version": {"type": "unlimited"}})},
    )
    policy_id = created.json()["policy_id"]
    run_pushes(secret_delivery(feed, workspace, [], policy_id=policy_id))
    got = httpx.get(
        f"{databricks.urls[0]}/api/2.0/policies/clusters/get",
        params={"policy_id": policy_id},
        headers={"Authorization": "Bearer dapi-sim-token"},
    ).json()
    definition = json.loads(got["definition"])
    assert definition["spark_env_vars.DATABRICKS_PIP_INDEX_URL"] == {"type": "fixed", "value": REF, "hidden": True}
    assert definition["spark_version"] == {"type": "unlimited"}


def test_oauth_m2m_fetches_one_token_and_reuses_it(
    db: None, admin: Any, feed: Any, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(1)
    ws.add_service_principal("sp-app-id", "sp-secret-value")
    target = services.target_create(
        actor=admin,
        kind="databricks",
        name="ws-sp",
        url=databricks.urls[1],
        auth_type="oauth_m2m",
        client_id="sp-app-id",
        client_secret="sp-secret-value",
    )
    for role in ("index", "extra"):
        delivery = services.delivery_create(actor=admin, feed=feed, target=target, mode="workspace_default", role=role)
        assert run_pushes(delivery).status == PushStatus.SUCCEEDED
    assert ws.secret_value("databricks-package-management", "pip-extra-index-urls") == feed.credentialed_url()
    assert ws.oauth_tokens_issued == 1


def test_verification_compares_workspace_timestamps_even_when_its_clock_is_hours_off(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    databricks.workspace(0).clock_skew_ms = -6 * 3_600_000
    delivery = services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default")
    assert run_pushes(delivery).status == PushStatus.SUCCEEDED
    feed_services.feed_set_token(actor="system", feed=feed, token="second-token")
    assert run_pushes(delivery).status == PushStatus.SUCCEEDED


def test_health_is_ok_after_a_push_and_names_every_check(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    ws.add_token("dapi-other", expiry_ms=ws.now_ms() + 90 * 86_400_000)
    cid = ws.add_cluster(name="etl", state="TERMINATED")
    run_pushes(services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default"))
    run_pushes(secret_delivery(feed, workspace, [cid]))
    results = health(workspace)
    assert results["authentication"]["status"] == "ok"
    assert "credential expiry" in results
    assert results["secret databricks-package-management/pip-index-url"]["status"] == "ok"
    assert results["secret platform/pypi"]["status"] == "ok"
    assert results["package scope readable by users"]["status"] == "ok"
    assert results["cluster etl"]["status"] == "ok"
    assert results["clusters needing restart"]["status"] == "ok"
    workspace.refresh_from_db()
    assert workspace.info.get("workspace_id") == ws.workspace_id


def test_health_finds_drift_missing_secrets_unwired_clusters_and_clusters_needing_restart(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    running = ws.add_cluster(name="interactive", state="RUNNING", start_time=ws.now_ms() - 60_000)
    stopped = ws.add_cluster(name="nightly", state="TERMINATED")
    run_pushes(services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default"))
    run_pushes(secret_delivery(feed, workspace, [stopped]))
    # Someone else overwrites our secret a second later (timestamps have one-second precision), unwires the
    # cluster, and the running cluster predates the secret.
    ws.clock_skew_ms += 1_000
    headers = {"Authorization": "Bearer dapi-sim-token"}
    httpx.post(
        f"{databricks.urls[0]}/api/2.0/secrets/put",
        headers=headers,
        json={"scope": "platform", "key": "pypi", "string_value": "https://other@example.com/simple/"},
    )
    httpx.post(
        f"{databricks.urls[0]}/api/2.1/clusters/update",
        headers=headers,
        json={"cluster_id": stopped, "update_mask": "spark_env_vars", "cluster": {"spark_env_vars": {}}},
    )
    results = health(workspace)
    assert results["secret platform/pypi"]["status"] == "warning"
    assert "Drift" in results["secret platform/pypi"]["detail"]
    assert results["cluster nightly"]["status"] == "failing"
    assert results["clusters needing restart"]["status"] == "warning"
    assert "interactive" in results["clusters needing restart"]["detail"]
    assert running
    httpx.post(
        f"{databricks.urls[0]}/api/2.0/secrets/delete",
        headers=headers,
        json={"scope": "databricks-package-management", "key": "pip-index-url"},
    )
    results = health(workspace)
    assert results["secret databricks-package-management/pip-index-url"]["status"] == "failing"
    workspace.refresh_from_db()
    assert workspace.health == "failing"


def test_health_of_a_workspace_with_a_revoked_pat_fails_authentication(
    db: None, admin: Any, databricks: DatabricksSimulator
) -> None:
    target = services.target_create(
        actor=admin, kind="databricks", name="revoked", url=databricks.urls[0], auth_type="pat", token="dapi-revoked"
    )
    results = health(target)
    assert results["authentication"]["status"] == "failing"
    assert "dapi-revoked" not in json.dumps(results)


@pytest.mark.parametrize("url", ["http://example.com", "https://169.254.169.254", "https://u:p@adb.example.net"])
def test_target_urls_follow_the_url_rules(db: None, admin: Any, url: str) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as info:
        services.target_create(actor=admin, kind="databricks", name="x", url=url, auth_type="pat", token="t")
    assert "u:p" not in str(info.value)
    assert not Target.objects.exists()
