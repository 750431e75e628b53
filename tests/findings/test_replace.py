"""The admin's actions on a finding: replace it with a managed delivery (Databricks cluster env var, Valohai project
variable), ignore it with a reason, and "this token leaked" (an emergency rotation of its feed)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from feeds.models import Feed
from findings import services
from findings.models import Finding, FindingStatus
from rotations.models import Rotation
from simulators.databricks import DatabricksSimulator
from simulators.valohai import ValohaiSimulator
from targets.models import Delivery, PushStatus, Target
from tests.findings.conftest import findings_of, run_pushes, scan, url

ENV = "cluster 0123-abc spark_env_vars.PIP_INDEX_URL"


def _cluster_finding(databricks: DatabricksSimulator, workspace: Target, token: str, state: str) -> Finding:
    databricks.workspace(0).add_cluster(
        cluster_id="0123-abc", state=state, spark_env_vars={"PIP_INDEX_URL": url(token), "KEEP": "me"}
    )
    scan(workspace)
    return findings_of(workspace)[ENV]


@pytest.mark.parametrize("state", ["TERMINATED", "RUNNING"])
def test_replacing_a_cluster_env_var_ends_with_a_managed_secret_and_no_plaintext(
    db: None, admin: Any, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator, state: str
) -> None:
    finding = _cluster_finding(databricks, workspace, token, state)
    delivery = services.finding_replace(
        actor=admin, finding=finding, scope="feedkeeper", key="acme", restart_consent=True
    )
    assert (delivery.mode, delivery.cfg.clusters, delivery.cfg.env_var) == ("secret", ["0123-abc"], "PIP_INDEX_URL")
    assert run_pushes(delivery).status == PushStatus.SUCCEEDED
    ws = databricks.workspace(0)
    env = ws.cluster("0123-abc")["spark_env_vars"]  # type: ignore[index]
    assert env == {"PIP_INDEX_URL": "{{secrets/feedkeeper/acme}}", "KEEP": "me"}
    assert ws.secret_value("feedkeeper", "acme") == feed.credentialed_url()
    assert token not in str(ws.cluster("0123-abc"))
    finding.refresh_from_db()
    assert (finding.status, finding.resolution, finding.replaced_by) == (FindingStatus.RESOLVED, "replaced", delivery)
    event = AuditEvent.objects.get(action="finding.replaced")
    assert event.detail["delivery"] == delivery.pk and "re-pointed" in event.detail["plaintext"]
    assert token not in str(event.detail)
    again = scan(workspace)
    assert again.counts == {"opened": 0, "reopened": 0, "seen": 0, "resolved": 0}


def test_a_running_cluster_without_consent_keeps_its_plaintext_until_it_restarts_and_the_next_scan_says_so(
    db: None, admin: Any, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    finding = _cluster_finding(databricks, workspace, token, "RUNNING")
    delivery = services.finding_replace(actor=admin, finding=finding, scope="feedkeeper", key="acme")
    push = run_pushes(delivery)
    assert push.detail["clusters"] == {"0123-abc": "wired on next restart"}
    assert scan(workspace).counts["reopened"] == 1
    assert Finding.objects.get(pk=finding.pk).status == FindingStatus.OPEN


def test_replacing_a_valohai_variable_turns_it_into_a_secret_delivery(
    db: None, admin: Any, feed: Feed, token: str, vh_target: Target, valohai: ValohaiSimulator, acme: dict[str, Any]
) -> None:
    project = acme["projects"][0]
    valohai.set_env_var(project["id"], "PIP_INDEX_URL", url(token), secret=False)
    scan(vh_target)
    finding = Finding.objects.get(target=vh_target)
    delivery = services.finding_replace(actor=admin, finding=finding)
    assert (delivery.mode, delivery.cfg.projects, delivery.cfg.variable) == (
        "project_variable",
        [project["id"]],
        "PIP_INDEX_URL",
    )
    assert run_pushes(delivery).status == PushStatus.SUCCEEDED
    assert valohai.env_var(project["id"], "PIP_INDEX_URL") == {"value": feed.credentialed_url(), "secret": True}
    assert scan(vh_target).counts["reopened"] == 0
    assert Finding.objects.get(pk=finding.pk).status == FindingStatus.RESOLVED


def test_a_place_feedkeeper_cannot_change_is_refused_with_what_to_do_instead(
    db: None, admin: Any, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    databricks.workspace(0).add_cluster(cluster_id="0123-abc", spark_conf={"spark.x": url(token)})
    scan(workspace)
    finding = Finding.objects.get(target=workspace)
    assert services.replacement_for(finding) is None
    with pytest.raises(ValidationError, match="by hand"):
        services.finding_replace(actor=admin, finding=finding, scope="s", key="k")
    assert not Delivery.objects.exists()


def test_replacing_needs_a_scope_and_key_on_databricks_and_a_feed(
    db: None, admin: Any, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    finding = _cluster_finding(databricks, workspace, token, "TERMINATED")
    assert finding.feed is None
    with pytest.raises(ValidationError, match="feed"):
        services.finding_replace(actor=admin, finding=finding, scope="s", key="k")


def test_ignoring_needs_a_reason_and_a_rescan_keeps_it_ignored(
    db: None, admin: Any, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    finding = _cluster_finding(databricks, workspace, token, "TERMINATED")
    with pytest.raises(ValidationError):
        services.finding_ignore(actor=admin, finding=finding, reason="  ")
    services.finding_ignore(actor=admin, finding=finding, reason="a test index")
    scan(workspace)
    finding.refresh_from_db()
    assert (finding.status, finding.ignored_reason, finding.ignored_by) == (
        FindingStatus.IGNORED,
        "a test index",
        admin,
    )
    assert AuditEvent.objects.get(action="finding.ignored").detail["reason"] == "a test index"


def test_this_token_leaked_starts_an_emergency_rotation_of_the_matched_feed(
    db: None, admin: Any, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    finding = _cluster_finding(databricks, workspace, token, "TERMINATED")
    with pytest.raises(ValidationError, match="rotation connection"):
        services.finding_leaked(actor=admin, finding=finding)
    rotation = _leak_with_connection(admin, feed, finding)
    assert rotation.emergency and rotation.feed == feed
    assert AuditEvent.objects.get(action="finding.leaked").detail["rotation"] == rotation.pk


def _leak_with_connection(admin: Any, feed: Feed, finding: Finding) -> Rotation:
    from feeds.models import Connection

    connection = Connection.objects.create(name="jfrog", kind="jfrog", url="https://acme.jfrog.io")
    Feed.objects.filter(pk=feed.pk).update(rotation_connection=connection, kind="jfrog")
    finding.refresh_from_db()
    return services.finding_leaked(actor=admin, finding=finding)  # type: ignore[no-any-return]
