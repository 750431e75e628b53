"""A real browser (Debian's chromium, driven by Playwright) over the dashboard: deliveries to a Databricks, a Valohai
and a GitHub target (their simulators) turn delivered on a real worker while the page watches, "Push now" shows
the row pushing and then delivered without a reload, a rotation's progress updates live, the overview lists what
needs attention; a viewer sees no control that changes anything and gets 403 when trying. Every page is
photographed at 1280 px and at 390 px (into SCREENSHOT_DIR), and no page is wider than the window.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from core import crypto
from feeds import services as feed_services
from feeds.models import Feed
from rotations.models import Rotation
from simulators.databricks import DatabricksSimulator
from simulators.github import GitHubSimulator
from simulators.valohai import ValohaiSimulator
from targets import services
from targets.models import Delivery
from tests.browser.test_feed_flow import assert_htmx_loaded, assert_no_secret, log_in
from tests.support.pypi import PrivateIndex
from tests.support.worker import WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots go to SCREENSHOT_DIR; the README's come from `SCREENSHOT_DIR=docs/screenshots make test
# PYTEST_ARGS=tests/browser`. By default a temporary folder, so a test run leaves the working tree as it was.
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "feedkeeper-screenshots")
WIDTHS = {"1280": (1280, 860), "390": (390, 844)}
LIVE_TIMEOUT_MS = 45_000
NEW_TOKEN = "rotated-token-7c1d9e"


@pytest.fixture
def platforms() -> Iterator[dict[str, Any]]:
    with (
        DatabricksSimulator(workspaces=1) as dbx,
        ValohaiSimulator() as vh,
        GitHubSimulator(latency=0.01) as gh,
    ):
        vh.add_organization("acme")
        vh.add_project("acme", "training")
        gh.add_org("acme")
        yield {"databricks": dbx, "valohai": vh, "github": gh}


@pytest.fixture
def index(private_index: PrivateIndex) -> Iterator[PrivateIndex]:
    """The shared private index; its user's password (the feed token) is put back after a rotation changed it."""
    yield private_index
    private_index.add_user(private_index.username, private_index.token)


def shoot(page: Page, name: str) -> None:
    """Both widths; at each, nothing may stick out to the right of the window."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{page.url} is {overflow} px wider than a {width} px window"
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})


def seed(admin: User, index: PrivateIndex, platforms: dict[str, Any]) -> tuple[Feed, list[Delivery]]:
    feed = feed_services.feed_create(
        actor=admin,
        name="acme-private",
        kind="generic",
        index_url=index.url,
        username=index.username,
        token=index.token,
    )
    dbx = services.target_create(
        actor=admin,
        kind="databricks",
        name="databricks-prod",
        url=platforms["databricks"].urls[0],
        auth_type="pat",
        token="dapi-sim-token",
    )
    vh = services.target_create(
        actor=admin,
        kind="valohai",
        name="valohai-acme",
        url=platforms["valohai"].url,
        auth_type="token",
        token="vh-sim-token",
        organization="acme",
    )
    gh = services.target_create(
        actor=admin,
        kind="github",
        name="github-acme",
        url=platforms["github"].api_url,
        token="ghp-sim-token",
        organization="acme",
    )
    deliveries = [
        services.delivery_create(actor=admin, feed=feed, target=dbx, mode="workspace_default"),
        services.delivery_create(actor=admin, feed=feed, target=vh, projects=["*"]),
        services.delivery_create(actor=admin, feed=feed, target=gh, mode="actions_org_secret"),
    ]
    return feed, deliveries


def test_an_admin_watches_pushes_and_a_rotation_live_on_every_page(
    live_server: object,
    celery_worker_process: WorkerProcess,
    index: PrivateIndex,
    platforms: dict[str, Any],
    admin: User,
    page: Page,
) -> None:
    base = str(live_server)
    private_index = index
    feed, deliveries = seed(admin, private_index, platforms)
    log_in(page, base, admin)

    page.goto(f"{base}/targets/deliveries/")
    assert_htmx_loaded(page)
    rows = page.locator("#deliveries tbody tr")
    expect(rows).to_have_count(3)
    for d in deliveries:  # only the rows' own polling can turn them delivered
        expect(page.locator(f"#delivery-{d.pk} .badge").first).to_have_text("delivered", timeout=LIVE_TIMEOUT_MS)
    shoot(page, "deliveries")

    first = page.locator(f"#delivery-{deliveries[0].pk}")
    first.get_by_role("button", name="Push now").click()
    expect(page).to_have_url(f"{base}/targets/deliveries/")
    expect(page.locator(".messages")).to_contain_text("requested")
    expect(page.locator(f"#delivery-{deliveries[0].pk} .badge").first).to_have_text(
        re.compile("pushing|delivered"), timeout=5_000
    )
    expect(page.locator(f"#delivery-{deliveries[0].pk} .badge").first).to_have_text(
        "delivered", timeout=LIVE_TIMEOUT_MS
    )

    page.goto(f"{base}/targets/deliveries/{deliveries[1].pk}/")
    expect(page.locator("#delivery-status .badge").first).to_have_text("delivered", timeout=LIVE_TIMEOUT_MS)
    shoot(page, "delivery")
    for d in deliveries:
        page.goto(f"{base}/targets/{d.target_id}/")
        expect(page.locator("#health .badge").first).not_to_have_text("unknown", timeout=LIVE_TIMEOUT_MS)
    shoot(page, "target")
    page.goto(f"{base}/targets/")
    shoot(page, "targets")
    page.goto(f"{base}/feeds/")
    shoot(page, "feeds")
    page.goto(f"{base}/feeds/{feed.pk}/")
    shoot(page, "feed")

    # A rotation: the new token is accepted by the index, pushed to the three targets, verified.
    private_index.add_user(private_index.username, NEW_TOKEN)
    page.goto(f"{base}/rotations/feed/{feed.pk}/rotate/")
    page.fill("#id_token", NEW_TOKEN)
    page.get_by_role("button", name="Start rotation").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/rotations/\d+/$"))
    assert_htmx_loaded(page)
    expect(page.locator("#step-push .badge")).to_have_text(re.compile("done|skipped"), timeout=LIVE_TIMEOUT_MS)
    # ...and on to its end, still without a reload: verified, promoted, completed (the previous token waits out its
    # grace before the revoke step runs).
    status = page.locator("#progress .heading .badge").first
    expect(status).to_have_text("completed", timeout=LIVE_TIMEOUT_MS)
    for step in ("mint", "test", "push", "verify", "promote"):
        expect(page.locator(f"#step-{step} .badge")).to_have_text(re.compile("done|skipped"))
    expect(page.locator("#step-revoke .badge")).to_have_text("waiting")
    rotation = Rotation.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[-1]))
    assert (rotation.status, rotation.new_fingerprint) == ("completed", crypto.fingerprint(NEW_TOKEN))
    shoot(page, "rotation")
    page.goto(f"{base}/rotations/")
    shoot(page, "rotations")

    page.goto(f"{base}/")
    expect(page.locator("#live")).to_be_visible()
    expect(page.locator("#health-matrix")).to_contain_text("databricks-prod")
    shoot(page, "overview")
    page.goto(f"{base}/docs/api/")
    expect(page.locator(".swagger-ui")).to_be_visible(timeout=15_000)
    page.goto(f"{base}/account/tokens/")
    page.fill("#id_name", "laptop")
    page.get_by_role("button", name="Issue token").click()
    expect(page).to_have_url(f"{base}/account/tokens/")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    shoot(page, "api-tokens")
    page.reload()
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert_no_secret(page, private_index.token, NEW_TOKEN)


def test_the_overview_lists_a_failed_delivery_with_its_reason_and_a_retry_button(
    live_server: object, operator: User, admin: User, page: Page
) -> None:
    from core import crypto
    from targets.models import Target

    feed = feed_services.feed_create(
        actor=admin, name="acme-private", kind="generic", index_url="https://pkgs.example/simple/", token="t-123456"
    )
    target = Target.objects.create(
        name="valohai-" + "x" * 80,
        kind="valohai",
        url="https://app.valohai.com",
        auth_type="token",
        credential=crypto.encrypt("vh-secret"),
        credential_fingerprint=crypto.fingerprint("vh-secret"),
        health="ok",
    )
    Delivery.objects.create(
        feed=feed, target=target, mode="project_variable", location="acme PIP", status="failed", last_error="401"
    )
    base = str(live_server)
    log_in(page, base, operator)
    expect(page.locator(".sidebar")).to_contain_text("Overview")
    expect(page.locator("#attention .attention-delivery")).to_contain_text("push failed")
    expect(page.locator("#attention .attention-delivery").get_by_role("button", name="Retry")).to_be_visible()
    expect(page.locator(f"#target-{target.pk} .badge").first).to_have_text("warning")
    shoot(page, "overview-attention")


def test_a_viewer_sees_no_control_that_changes_anything_and_gets_403_when_trying(
    live_server: object, viewer: User, admin: User, page: Page, expected_failures: list[str]
) -> None:
    feed = feed_services.feed_create(
        actor=admin, name="acme-private", kind="generic", index_url="https://pkgs.example/simple/", token="t-123456"
    )
    base = str(live_server)
    expected_failures.append(f"403 {base}/feeds/{feed.pk}/check/")
    log_in(page, base, viewer)
    for path in ("/", "/feeds/", f"/feeds/{feed.pk}/", "/targets/", "/targets/deliveries/", "/rotations/"):
        page.goto(f"{base}{path}")
        posts = page.locator("form[method=post]:not([action='/logout/'])")
        expect(posts).to_have_count(0)
    shoot(page, "viewer-rotations")
    status = page.evaluate(
        """async (url) => {
            const token = document.querySelector('body').getAttribute('hx-headers');
            const csrf = JSON.parse(token)['X-CSRFToken'];
            const r = await fetch(url, {method: 'POST', headers: {'X-CSRFToken': csrf}});
            return r.status;
        }""",
        f"{base}/feeds/{feed.pk}/check/",
    )
    assert status == 403
