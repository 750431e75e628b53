"""Databricks platform rules the adapter must follow, each against the simulator (which enforces it) over real HTTP:
one-second timestamps, OAuth/401 errors, token/list, clusters users cannot edit, "needs restart" times. Each test
names the vendor page its rule comes from (docs/platforms.md §1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import timezone

from feeds import services as feed_services
from simulators.databricks import DatabricksSimulator
from targets import checks, pushing, services
from targets.adapters import AdapterError
from targets.adapters.base import PushItem
from targets.models import Delivery, Push, PushStatus, Target

SCOPE, KEY = "databricks-package-management", "pip-index-url"


def run_push(delivery: Delivery, *, consent: bool = False) -> Push:
    push = pushing.push_request(delivery=delivery, actor="system", restart_consent=consent)
    pushing.push_dispatch(target_id=delivery.target_id)
    pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    return push


def health(target: Target) -> dict[str, dict[str, str]]:
    check = checks.target_check_request(actor="system", target=target)
    checks.target_check_run(check_id=check.pk)
    check.refresh_from_db()
    return {r["name"]: r for r in check.results}


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
    Push.objects.filter(delivery=delivery).delete()
    return delivery


# --- 5. one-second timestamps (REST reference "List secret keys": ms since epoch; its example is a whole second) ----


def test_a_put_in_the_same_second_as_the_last_one_is_verified(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    ws.frozen_ms = 1_800_000_000_250  # the clock stands still: every put lands in the same second
    delivery = services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default")
    assert run_push(delivery).status == PushStatus.SUCCEEDED
    feed_services.feed_set_token(actor="system", feed=feed, token="second-token")
    push = run_push(delivery)
    assert push.status == PushStatus.SUCCEEDED, push.error
    feed.refresh_from_db()
    assert ws.secret_value(SCOPE, KEY) == feed.credentialed_url()
    delivery.refresh_from_db()
    assert delivery.delivered_remote_ts == 1_800_000_000_000


def test_a_batch_in_the_same_second_is_verified_too(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    databricks.workspace(0).frozen_ms = 1_800_000_000_250
    deliveries = [
        services.delivery_create(actor="system", feed=feed, target=workspace, mode="secret", scope="team", key=f"k{i}")
        for i in range(3)
    ]
    adapter = workspace.adapter()
    for _ in range(2):  # the second batch overwrites within the same second
        items = [PushItem(delivery=d, value=feed.credentialed_url()) for d in deliveries]
        adapter.push_many(items, parallel=2)
        assert [i.error for i in items] == [None] * 3
        for d in deliveries:
            d.delivered_remote_ts = 1_800_000_000_000


# --- 7. OAuth errors and 401 (SDK errors/platform.py: 401 Unauthenticated; SDK oauth.py: errorCode/errorSummary) --


def test_a_401_unauthenticated_is_a_bad_credential_not_a_missing_permission(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    databricks.workspace(0).faults.add(status=401, count=1, path_contains="/secrets/")
    delivery = services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default")
    with pytest.raises(AdapterError) as info:
        workspace.adapter().push(delivery, feed.credentialed_url(), restart_consent=False)
    assert info.value.permanent is True
    assert "refused Feedkeeper's credential" in str(info.value) and "may not do this" not in str(info.value)


def test_an_oauth_refusal_as_error_code_and_summary_says_the_client_credentials_are_wrong(
    db: None, admin: Any, feed: Any, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    ws.add_service_principal("sp-app", "right-secret")
    ws.oauth_error_style = "okta"
    target = services.target_create(
        actor=admin,
        kind="databricks",
        name="sp",
        url=databricks.urls[0],
        auth_type="oauth_m2m",
        client_id="sp-app",
        client_secret="wrong-secret",
    )
    delivery = services.delivery_create(actor=admin, feed=feed, target=target, mode="workspace_default")
    push = run_push(delivery)
    assert push.status == PushStatus.FAILED and push.attempts == 1
    assert "Client authentication failed" in push.error and "client id or secret" in push.error
    assert "wrong-secret" not in push.error


def test_token_expiry_of_an_identity_with_one_token_is_the_credentials_own(
    db: None, admin: Any, databricks: DatabricksSimulator
) -> None:
    # REST reference "List all tokens" (token/list): every valid token of the user; with one, it is the caller's.
    ws = databricks.workspace(0)
    ws.add_token("dapi-sp-only", user="sp@example.com", expiry_ms=ws.now_ms() + 200 * 86_400_000)
    target = services.target_create(
        actor=admin, kind="databricks", name="sp", url=databricks.urls[0], auth_type="pat", token="dapi-sp-only"
    )
    result = health(target)["credential expiry"]
    assert result["status"] == "ok" and "Feedkeeper's token expires" in result["detail"]
    target.refresh_from_db()
    assert target.credential_expires_source == "platform"
    assert target.credential_expires_at is not None
    assert 199 <= (target.credential_expires_at - timezone.now()).days <= 200


def test_token_expiry_of_an_identity_with_several_tokens_is_the_soonest_and_not_stored(
    db: None, admin: Any, databricks: DatabricksSimulator
) -> None:
    # token/list does not say which token is the caller's: the soonest is shown, not taken for the credential's.
    ws = databricks.workspace(0)
    ws.add_token("dapi-sp-one", user="sp@example.com", expiry_ms=ws.now_ms() + 200 * 86_400_000)
    ws.add_token("dapi-sp-two", user="sp@example.com", expiry_ms=ws.now_ms() + 100 * 86_400_000)
    target = services.target_create(
        actor=admin, kind="databricks", name="sp", url=databricks.urls[0], auth_type="pat", token="dapi-sp-one"
    )
    result = health(target)["credential expiry"]
    assert result["status"] == "ok"
    assert "identity's soonest" in result["detail"] and "every token of the identity" in result["detail"]
    target.refresh_from_db()
    assert target.credential_expires_at is None and target.credential_expires_source == ""


# --- 2. clusters users cannot edit (SDK ClusterSource; Clusters API "Edit a cluster") -----------------------------


@pytest.mark.parametrize("source", ["PIPELINE", "PIPELINE_MAINTENANCE", "SQL", "MODELS"])
def test_clusters_users_cannot_edit_are_never_wired(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator, source: str
) -> None:
    ws = databricks.workspace(0)
    cid = ws.add_cluster(name="svc", state="TERMINATED", cluster_source=source)
    push = run_push(secret_delivery(feed, workspace, [cid]))
    assert push.status == PushStatus.SUCCEEDED, push.error
    assert push.detail["clusters"][cid].startswith("skipped:")
    assert ws.cluster(cid)["spark_env_vars"] == {}


def test_clusters_users_cannot_edit_are_never_flagged_needing_restart(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    old = ws.now_ms() - 3_600_000
    ws.add_cluster(name="warehouse", state="RUNNING", cluster_source="SQL", start_time=old)
    ws.add_cluster(name="dlt", state="RUNNING", cluster_source="PIPELINE", start_time=old)
    run_push(services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default"))
    assert health(workspace)["clusters needing restart"]["status"] == "ok"


# --- 6. "needs restart" (SDK ClusterDetails: start_time = creation request; last_restarted_time;
#        last_state_loss_time = the driver lost its state, by a restart or a failure) ---------------------------------


def test_a_driver_restart_after_the_push_means_the_cluster_read_the_new_value(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    now = ws.now_ms()
    ws.add_cluster(
        name="etl",
        state="RUNNING",
        start_time=now - 7_200_000,
        last_restarted_time=now - 3_600_000,
        last_state_loss_time=now + 60_000,  # the driver came back after the push
    )
    run_push(services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default"))
    assert health(workspace)["clusters needing restart"]["status"] == "ok"


def test_a_cluster_reporting_neither_restart_time_is_named_plainly(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    cid = ws.add_cluster(name="mystery", state="RUNNING", start_time=ws.now_ms() + 60_000)
    ws.clusters[cid].last_restarted_time = ws.clusters[cid].last_state_loss_time = None
    run_push(services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default"))
    result = health(workspace)["clusters needing restart"]
    assert result["status"] == "warning"
    assert "mystery" in result["detail"] and "neither last_restarted_time nor last_state_loss_time" in result["detail"]


def test_a_cluster_restarted_before_the_push_needs_a_restart_whatever_its_creation_time(
    db: None, feed: Any, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    now = ws.now_ms()
    ws.add_cluster(name="etl", state="RUNNING", start_time=now - 7_200_000, last_restarted_time=now - 3_600_000)
    run_push(services.delivery_create(actor="system", feed=feed, target=workspace, mode="workspace_default"))
    result = health(workspace)["clusters needing restart"]
    assert result["status"] == "warning" and "etl" in result["detail"]
    assert json.dumps(result).count("etl") == 1
