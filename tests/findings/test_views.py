"""The findings pages: the list (filters, badges, excerpts), one finding with replace / ignore / this token
leaked, "Scan now" on a target's page, and the overview's count. Each: works, needs login, wrong role is refused,
bad input gets a clear error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from feeds.models import Feed
from findings.models import Finding, FindingStatus, ScanRun
from simulators.databricks import DatabricksSimulator
from targets.models import Delivery, Target
from tests.findings.conftest import scan, url

Login = Callable[[User], Client]


@pytest.fixture
def finding(db: None, feed: Feed, token: str, workspace: Target, databricks: DatabricksSimulator) -> Finding:
    databricks.workspace(0).add_cluster(
        cluster_id="0123-abc", state="TERMINATED", spark_env_vars={"PIP_INDEX_URL": url(token)}
    )
    scan(workspace)
    return Finding.objects.get(target=workspace)


def test_the_list_shows_location_excerpt_feed_and_badge_and_no_token(
    login: Login, viewer: User, finding: Finding, token: str
) -> None:
    page = login(viewer).get("/findings/")
    body = page.content.decode()
    assert page.status_code == 200 and token not in body
    assert "cluster 0123-abc spark_env_vars.PIP_INDEX_URL" in body and "https://build:***@" in body
    assert "badge-open" in body and f"/feeds/{finding.feed_id}/" in body


def test_the_list_filters_and_says_which_filter_is_bad(login: Login, viewer: User, finding: Finding) -> None:
    client = login(viewer)
    assert "0123-abc" not in client.get("/findings/?status=resolved").content.decode()
    bad = client.get("/findings/?status=nonsense")
    assert bad.status_code == 400 and "Status" in bad.content.decode()


def test_the_pages_need_login_and_a_role(client: Client, login: Login, outsider: User, finding: Finding) -> None:
    for path in ("/findings/", f"/findings/{finding.pk}/"):
        assert client.get(path).status_code == 302
        assert login(outsider).get(path).status_code == 403
    assert login(outsider).get("/findings/99999/").status_code == 403


def test_the_detail_offers_replace_ignore_and_leaked_to_admins_only(
    login: Login, admin: User, viewer: User, finding: Finding, token: str
) -> None:
    admin_page = login(admin).get(f"/findings/{finding.pk}/").content.decode()
    assert "Replace with a managed delivery" in admin_page and "This token leaked" in admin_page
    assert f"/rotations/feed/{finding.feed_id}/leaked/" in admin_page and token not in admin_page
    viewer_page = login(viewer).get(f"/findings/{finding.pk}/")
    assert viewer_page.status_code == 200 and "Admins can replace it." in viewer_page.content.decode()
    assert login(admin).get("/findings/99999/").status_code == 404


def test_ignoring_needs_an_admin_and_a_reason(login: Login, admin: User, operator: User, finding: Finding) -> None:
    path = f"/findings/{finding.pk}/ignore/"
    assert login(operator).post(path, {"reason": "x"}).status_code == 403
    bad = login(admin).post(path, {"reason": ""})
    assert bad.status_code == 400 and "This field is required" in bad.content.decode()
    assert login(admin).post(path, {"reason": "a test index"}).status_code == 302
    assert Finding.objects.get(pk=finding.pk).status == FindingStatus.IGNORED


def test_replacing_from_the_page_creates_the_delivery_and_redirects_to_it(
    login: Login, admin: User, operator: User, finding: Finding
) -> None:
    path = f"/findings/{finding.pk}/replace/"
    form = {"feed": finding.feed_id, "scope": "feedkeeper", "key": "acme", "restart_consent": "on"}
    assert login(operator).post(path, form).status_code == 403
    bad = login(admin).post(path, {**form, "scope": "bad scope!"})
    assert bad.status_code == 400 and "letters, digits" in bad.content.decode()
    done = login(admin).post(path, form)
    delivery = Delivery.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/targets/deliveries/{delivery.pk}/"
    assert Finding.objects.get(pk=finding.pk).replaced_by == delivery


def test_leaked_without_a_connection_says_what_to_do(login: Login, admin: User, finding: Finding) -> None:
    response = login(admin).post(f"/findings/{finding.pk}/leaked/", follow=True)
    assert "rotation connection" in response.content.decode()


def test_scan_now_on_a_target_needs_an_operator_and_answers_htmx_with_the_status(
    login: Login, operator: User, viewer: User, finding: Finding
) -> None:
    path = f"/findings/target/{finding.target_id}/scan/"
    assert login(viewer).post(path).status_code == 403
    assert login(operator).post("/findings/target/99999/scan/").status_code == 404
    assert login(operator).post(path).status_code == 302
    fragment = login(operator).post(path, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and 'id="scan-status"' in fragment.content.decode()
    scan_id = ScanRun.objects.latest("id").pk
    assert "scanning" in login(viewer).get(f"/findings/scans/{scan_id}/").content.decode()
    target_page = login(operator).get(f"/targets/{finding.target_id}/").content.decode()
    assert "Scan now" in target_page


def test_the_overview_counts_open_findings(login: Login, viewer: User, finding: Finding) -> None:
    body = login(viewer).get("/").content.decode()
    assert 'id="open-findings"' in body and "1</span> <a" in body


def test_removing_the_plaintext_from_the_page_needs_an_admin_and_says_when_it_is_too_early(
    login: Login, admin: User, operator: User, finding: Finding
) -> None:
    path = f"/findings/{finding.pk}/remove-plaintext/"
    assert login(operator).post(path).status_code == 403
    response = login(admin).post(path, follow=True)
    assert "wait until it is delivered" in response.content.decode()
