"""Scanning a simulated Databricks workspace over real HTTP: every place people paste credentialed URLs by hand is
found with its location, matched to its feed, redacted, never duplicated, resolved when fixed, and a part that
fails resolves nothing."""

from __future__ import annotations

import json
from typing import Any

from audit.models import AuditEvent
from feeds.models import Feed
from findings.models import Finding, FindingStatus, ScanStatus, TokenMatch
from simulators.databricks import DatabricksSimulator
from simulators.databricks.workloads_api import add_job, install_library
from targets.models import Target
from tests.findings.conftest import FEED_HOST, OTHER_HOST, canary, findings_of, scan, url


def seed_everywhere(sim: DatabricksSimulator, token: str) -> dict[str, str]:
    """One credentialed URL in each place a scan reads; returns the ids it made."""
    ws = sim.workspace(0)
    cluster = ws.add_cluster(
        cluster_id="0123-abc",
        name="etl",
        state="TERMINATED",
        spark_env_vars={"PIP_INDEX_URL": url(token), "HARMLESS": "1"},
        spark_conf={"spark.pip.index": url(token)},
        init_scripts=[{"workspace": {"destination": f"https://build:{token}@{FEED_HOST}/scripts/init.sh"}}],
    )
    install_library(ws, cluster, {"pypi": {"package": "acme-lib", "repo": url(token)}})
    ws.policies["POL1"] = _policy(ws, token)
    add_job(
        ws,
        {
            "name": "nightly",
            "job_clusters": [
                {"job_cluster_key": "main", "new_cluster": {"spark_env_vars": {"PIP_INDEX_URL": url(token)}}}
            ],
            "tasks": [{"task_key": "train", "libraries": [{"pypi": {"package": "acme-lib", "repo": url(token)}}]}],
        },
    )
    return {"cluster": cluster}


def _policy(ws: Any, token: str) -> Any:
    from simulators.databricks.state import Policy

    definition = {"spark_env_vars.PIP_EXTRA_INDEX_URL": {"type": "fixed", "value": url(token)}}
    return Policy("POL1", "pip", json.dumps(definition), "admin@example.com", ws.now_ms())


def test_a_scan_finds_a_pasted_url_in_every_place_with_its_location(
    db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    seed_everywhere(databricks, token)
    run = scan(workspace)
    assert run.status == ScanStatus.OK, run.detail
    assert set(findings_of(workspace)) == {
        "cluster 0123-abc spark_env_vars.PIP_INDEX_URL",
        "cluster 0123-abc spark_conf.spark.pip.index",
        "cluster 0123-abc init_scripts[0].workspace",
        "cluster 0123-abc library pypi acme-lib repo",
        "policy POL1 definition.spark_env_vars.PIP_EXTRA_INDEX_URL.value",
        "job 1001 job_cluster main spark_env_vars.PIP_INDEX_URL",
        "job 1001 task train library pypi acme-lib repo",
    }
    assert run.counts["opened"] == 7


def test_each_finding_is_matched_to_its_feed_redacted_and_holds_only_a_fingerprint(
    db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    seed_everywhere(databricks, token)
    scan(workspace)
    env = findings_of(workspace)["cluster 0123-abc spark_env_vars.PIP_INDEX_URL"]
    assert env.feed == feed and env.token_match == TokenMatch.CURRENT and env.fingerprint == feed.fingerprint
    assert env.excerpt == f"https://build:***@{FEED_HOST}/acme/_packaging/internal/pypi/simple/"
    assert env.editable and env.status == FindingStatus.OPEN
    assert not findings_of(workspace)["job 1001 job_cluster main spark_env_vars.PIP_INDEX_URL"].editable
    assert all(token not in str(f.__dict__) for f in Finding.objects.all())


def test_an_unknown_token_on_the_feeds_host_is_matched_by_host_and_path(
    db: None, feed: Feed, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    ws.add_cluster(cluster_id="c-1", spark_env_vars={"A": url(canary()), "B": url(canary(), host=OTHER_HOST)})
    scan(workspace)
    found = findings_of(workspace)
    assert found["cluster c-1 spark_env_vars.A"].feed == feed
    assert found["cluster c-1 spark_env_vars.A"].token_match == TokenMatch.UNKNOWN
    assert found["cluster c-1 spark_env_vars.B"].feed is None


def test_a_previous_token_is_told_apart_from_the_current_one(
    db: None, admin: Any, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    from feeds import services as feed_services

    feed_services.feed_set_token(actor=admin, feed=feed, token=canary())
    ws = databricks.workspace(0)
    ws.add_cluster(cluster_id="c-1", spark_env_vars={"OLD": url(token, host="elsewhere.test")})
    scan(workspace)
    old = findings_of(workspace)["cluster c-1 spark_env_vars.OLD"]
    assert (old.feed, old.token_match) == (feed, TokenMatch.PREVIOUS)


def test_a_bare_token_without_a_url_is_found_by_its_fingerprint(
    db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    databricks.workspace(0).add_cluster(cluster_id="c-1", spark_env_vars={"PYPI_TOKEN": token, "NOT": "a-token-x"})
    scan(workspace)
    (finding,) = Finding.objects.filter(target=workspace)
    assert (finding.location, finding.kind, finding.excerpt) == (
        "cluster c-1 spark_env_vars.PYPI_TOKEN",
        "token_match",
        "***",
    )
    assert finding.feed == feed and finding.token_match == TokenMatch.CURRENT


def test_a_rescan_never_duplicates_a_finding(
    db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    seed_everywhere(databricks, token)
    first = scan(workspace)
    again = scan(workspace)
    assert Finding.objects.filter(target=workspace).count() == 7
    assert again.counts == {"opened": 0, "reopened": 0, "seen": 7, "resolved": 0}
    env = findings_of(workspace)["cluster 0123-abc spark_env_vars.PIP_INDEX_URL"]
    assert env.last_seen > env.first_seen and env.last_scan_id == again.pk != first.pk


def test_fixing_a_place_resolves_its_finding_on_the_next_scan_and_a_relapse_opens_it_again(
    db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    ws.add_cluster(cluster_id="c-1", spark_env_vars={"PIP_INDEX_URL": url(token)})
    scan(workspace)
    ws.clusters["c-1"].attributes["spark_env_vars"] = {"PIP_INDEX_URL": "{{secrets/s/k}}"}
    assert scan(workspace).counts["resolved"] == 1
    finding = Finding.objects.get(target=workspace)
    assert (finding.status, finding.resolution) == (FindingStatus.RESOLVED, "gone")
    ws.clusters["c-1"].attributes["spark_env_vars"] = {"PIP_INDEX_URL": url(token)}
    assert scan(workspace).counts["reopened"] == 1
    assert Finding.objects.get(target=workspace).status == FindingStatus.OPEN


def test_a_part_that_fails_resolves_nothing_it_held_and_the_scan_is_partial(
    db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    seed_everywhere(databricks, token)
    scan(workspace)
    ws = databricks.workspace(0)
    ws.clusters["0123-abc"].attributes["spark_env_vars"] = {}
    ws.faults.add(403, count=5, path_contains="/libraries/", error_code="PERMISSION_DENIED", message="no")
    run = scan(workspace)
    assert run.status == ScanStatus.PARTIAL and "libraries" in run.detail
    assert {s["name"]: s["status"] for s in run.sources}["libraries"] == "failed"
    found = findings_of(workspace)
    assert found["cluster 0123-abc library pypi acme-lib repo"].status == FindingStatus.OPEN
    assert found["cluster 0123-abc spark_env_vars.PIP_INDEX_URL"].status == FindingStatus.RESOLVED


def test_an_unreachable_workspace_fails_the_scan_and_resolves_nothing(
    db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    seed_everywhere(databricks, token)
    scan(workspace)
    databricks.stop()
    run = scan(workspace)
    assert run.status == ScanStatus.FAILED
    assert not Finding.objects.filter(target=workspace).exclude(status=FindingStatus.OPEN).exists()


def test_every_page_of_clusters_and_jobs_is_read(
    db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    ws = databricks.workspace(0)
    for i in range(101):
        ws.add_cluster(cluster_id=f"c-{i:03d}", spark_env_vars={} if i < 100 else {"P": url(token)})
        add_job(ws, {"name": f"job-{i}", "tasks": [{"task_key": "t", "new_cluster": {}}]})
    add_job(ws, {"name": "last", "tasks": [{"task_key": "t", "new_cluster": {"spark_env_vars": {"P": url(token)}}}]})
    scan(workspace)
    assert set(findings_of(workspace)) == {"cluster c-100 spark_env_vars.P", "job 1102 task t spark_env_vars.P"}
    assert ("GET", "/api/2.1/jobs/list") in {(m, p.split("?")[0]) for m, p in ws.requests}


def test_a_scan_is_audited_with_counts_and_never_a_value(
    db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator
) -> None:
    seed_everywhere(databricks, token)
    run = scan(workspace)
    event = AuditEvent.objects.get(action="target.scan")
    assert event.object_id == str(workspace.pk) and event.outcome == "success"
    assert event.detail["scan"] == run.pk and event.detail["opened"] == 7 and event.detail["open"] == 7
    assert token not in json.dumps(event.detail) and token not in str(run.sources)
