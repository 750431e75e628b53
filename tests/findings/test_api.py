"""The findings API: `GET /api/v1/findings/` (contract fields, filters shared with the page), `POST
/api/v1/targets/{id}/scan/` (202 and a check record to poll), and ignore / replace / leaked, with 400, 401, 403 and
404 where they belong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from feeds.models import Feed
from findings.models import Finding
from simulators.databricks import DatabricksSimulator
from targets.models import Target
from tests.findings.conftest import scan, url

Api = Callable[[User], APIClient]
CONTRACT = {"id", "target", "location", "feed", "excerpt", "status", "first_seen", "last_seen"}


@pytest.fixture
def finding(db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator) -> Finding:
    databricks.workspace(0).add_cluster(
        cluster_id="0123-abc", state="TERMINATED", spark_env_vars={"PIP_INDEX_URL": url(token)}
    )
    scan(workspace)
    return Finding.objects.get(target=workspace)


def test_the_list_has_the_contract_fields_and_no_token(api: Api, viewer: User, finding: Finding, token: str) -> None:
    response = api(viewer).get("/api/v1/findings/")
    assert response.status_code == 200 and token not in response.content.decode()
    (row,) = response.json()["results"]
    assert CONTRACT <= set(row)
    assert row["location"] == "cluster 0123-abc spark_env_vars.PIP_INDEX_URL" and row["status"] == "open"
    assert row["feed"] == finding.feed_id and row["token_match"] == "current" and row["replaceable"] is True
    assert row["excerpt"].startswith("https://build:***@")


def test_the_list_filters_by_target_feed_and_status_and_refuses_a_bad_value(
    api: Api, viewer: User, finding: Finding
) -> None:
    client = api(viewer)
    assert client.get(f"/api/v1/findings/?target={finding.target_id}&status=open").json()["count"] == 1
    assert client.get(f"/api/v1/findings/?feed={finding.feed_id}&status=resolved").json()["count"] == 0
    bad = client.get("/api/v1/findings/?status=nonsense")
    assert bad.status_code == 400 and "status" in bad.json()


def test_no_token_gets_401_and_an_unknown_finding_404(api: Api, viewer: User, finding: Finding) -> None:
    assert APIClient().get("/api/v1/findings/").status_code == 401
    assert api(viewer).get("/api/v1/findings/99999/").status_code == 404


def test_an_operator_scans_a_target_and_polls_the_check_record(
    api: Api, operator: User, viewer: User, finding: Finding, token: str
) -> None:
    assert api(viewer).post(f"/api/v1/targets/{finding.target_id}/scan/").status_code == 403
    assert api(operator).post("/api/v1/targets/99999/scan/").status_code == 404
    response = api(operator).post(f"/api/v1/targets/{finding.target_id}/scan/")
    assert response.status_code == 202
    record = api(viewer).get(f"/api/v1/checks/{response.json()['id']}/")
    assert record.status_code == 200 and record.json()["kind"] == "scan"
    assert record.json()["status"] in ("pending", "running", "ok") and token not in record.content.decode()


def test_only_an_admin_ignores_and_needs_a_reason(api: Api, admin: User, operator: User, finding: Finding) -> None:
    path = f"/api/v1/findings/{finding.pk}/ignore/"
    assert api(operator).post(path, {"reason": "x"}, format="json").status_code == 403
    bad = api(admin).post(path, {}, format="json")
    assert bad.status_code == 400 and "reason" in bad.json()
    done = api(admin).post(path, {"reason": "test index"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "ignored"
    assert api(admin).post(path, {"reason": "again"}, format="json").status_code == 400


def test_an_admin_replaces_a_finding_with_a_delivery(api: Api, admin: User, operator: User, finding: Finding) -> None:
    path = f"/api/v1/findings/{finding.pk}/replace/"
    assert api(operator).post(path, {}, format="json").status_code == 403
    bad = api(admin).post(path, {"scope": "", "key": ""}, format="json")
    assert bad.status_code == 400 and "scope" in bad.json()
    response = api(admin).post(path, {"scope": "feedkeeper", "key": "acme", "restart_consent": True}, format="json")
    assert response.status_code == 202
    delivery = api(admin).get(f"/api/v1/deliveries/{response.json()['id']}/").json()
    assert (delivery["mode"], delivery["env_var"], delivery["clusters"]) == ("secret", "PIP_INDEX_URL", ["0123-abc"])
    assert api(admin).get(f"/api/v1/findings/{finding.pk}/").json()["status"] == "resolved"


def test_leaked_without_a_rotation_connection_is_a_clear_400(api: Api, admin: User, finding: Finding) -> None:
    response = api(admin).post(f"/api/v1/findings/{finding.pk}/leaked/")
    assert response.status_code == 400 and "token" in response.json()


def test_the_schema_documents_the_findings_endpoints(api: Api, viewer: User, db: Any) -> None:
    schema = api(viewer).get("/api/v1/schema/?format=json")
    paths = schema.json()["paths"] if schema["Content-Type"].startswith("application/json") else schema.content.decode()
    for path in ("/api/v1/findings/", "/api/v1/findings/{id}/ignore/", "/api/v1/targets/{id}/scan/"):
        assert path in paths


def test_a_finished_scan_record_lists_its_parts_and_counts_never_a_value(
    api: Api, viewer: User, finding: Finding, token: str
) -> None:
    from findings.models import ScanRun

    run = ScanRun.objects.filter(target=finding.target).latest("id")
    record = api(viewer).get(f"/api/v1/checks/{run.pk}/").json()
    assert record["status"] == "ok" and record["counts"]["opened"] == 1
    assert {p["name"] for p in record["sources"]} == {"clusters", "libraries", "policies", "jobs"}
    assert token not in str(record)


def test_removing_the_plaintext_needs_an_admin_and_a_delivered_replacement(
    api: Api, admin: User, operator: User, finding: Finding
) -> None:
    path = f"/api/v1/findings/{finding.pk}/remove-plaintext/"
    assert api(operator).post(path).status_code == 403
    refused = api(admin).post(path)
    assert refused.status_code == 400 and "non_field_errors" in refused.json()
    assert api(admin).post("/api/v1/findings/99999/remove-plaintext/").status_code == 404
