"""The overview's one "needs attention" list: every reason, with its one-click action offered only to the roles
that may take it; the navigation counts agree with it; the health matrix shows a failed delivery in its target's
badge; the number of queries does not grow with the rows; the live part is served to htmx alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from core import crypto
from feeds import services as feed_services
from feeds.models import Feed, FeedCheck
from rotations.models import Rotation
from targets.models import Delivery, Push, Target, TargetCheck

Login = Callable[[User], Client]


def make_feed(admin: User, name: str, **kwargs: Any) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name=name,
        kind="generic",
        index_url=f"https://{name}.example/simple/",
        token=f"token-of-{name}-123456",
        **kwargs,
    )


def make_target(name: str, kind: str = "valohai", health: str = "ok") -> Target:
    return Target.objects.create(
        name=name,
        kind=kind,
        url="https://app.valohai.com",
        auth_type="token",
        credential=crypto.encrypt("secret-" + name),
        credential_fingerprint=crypto.fingerprint("secret-" + name),
        health=health,
        health_checked_at=timezone.now(),
    )


def make_delivery(feed: Feed, target: Target, status: str, error: str = "", n: int = 0) -> Delivery:
    return Delivery.objects.create(
        feed=feed,
        target=target,
        mode="project_variable",
        location=f"project {n} PRIVATE_PYPI_INDEX_URL",
        status=status,
        last_error=error,
        last_pushed_at=timezone.now(),
    )


@pytest.fixture
def world(admin: User) -> dict[str, Any]:
    """One of each reason: an expiring feed token, a feed whose check is forbidden, a failed and a stale
    delivery, a target in warning, a failed rotation; plus a healthy feed and target that must not be listed."""
    expiring = make_feed(admin, "expiring", token_expires_at=timezone.now() + timedelta(days=2))
    forbidden = make_feed(admin, "forbidden")
    FeedCheck.objects.create(feed=forbidden, status="ok")
    FeedCheck.objects.create(feed=forbidden, status="forbidden", http_status=403)
    healthy = make_feed(admin, "healthy")
    FeedCheck.objects.create(feed=healthy, status="forbidden")
    FeedCheck.objects.create(feed=healthy, status="ok")
    valohai = make_target("valohai-prod")
    TargetCheck.objects.create(target=valohai, status="ok", results=[{"name": "authentication", "status": "ok"}])
    warning = make_target("databricks-dev", kind="databricks", health="warning")
    TargetCheck.objects.create(
        target=warning, status="warning", results=[{"name": "authentication", "status": "warning", "detail": "x"}]
    )
    make_target("github-fine", kind="github")
    failed = make_delivery(healthy, valohai, "failed", error="401 from https://x:hunter2@app.valohai.com", n=1)
    stale = make_delivery(expiring, valohai, "stale", n=2)
    make_delivery(healthy, warning, "delivered", n=3)
    rotation = Rotation.objects.create(feed=forbidden, status="failed", phase="push", error="push failed")
    return {"failed": failed, "stale": stale, "rotation": rotation, "valohai": valohai, "warning": warning}


def attention_of(client: Client) -> list[tuple[str, str]]:
    response = client.get("/")
    assert response.status_code == 200
    return [(a.key, a.label) for a in response.context["attention"].items]


def test_one_list_names_every_reason_once(login: Login, viewer: User, world: dict[str, Any]) -> None:
    listed = attention_of(login(viewer))
    assert sorted(listed) == sorted(
        [
            ("expiry", "expiring"),
            ("feed_check", "forbidden"),
            ("delivery", "healthy → valohai-prod"),
            ("delivery", "expiring → valohai-prod"),
            ("target", "databricks-dev"),
            ("rotation", "forbidden"),
        ]
    )


def test_each_entry_says_why_and_the_failed_delivery_shows_its_redacted_error(
    login: Login, operator: User, world: dict[str, Any]
) -> None:
    body = login(operator).get("/").content.decode()
    assert "credential check: forbidden" in body
    assert "push failed" in body and "stale: the feed&#x27;s token changed" in body
    assert "health warning" in body and "rotation failed at push" in body
    assert "hunter2" not in body


def test_an_operator_gets_retry_and_check_buttons_but_not_the_admins_rotate(
    login: Login, operator: User, world: dict[str, Any]
) -> None:
    body = login(operator).get("/").content.decode()
    assert f'action="/targets/deliveries/{world["failed"].pk}/push/"' in body
    assert f'action="/targets/{world["warning"].pk}/check/"' in body
    assert "Rotate now" not in body


def test_a_viewer_gets_no_button_that_changes_anything(login: Login, viewer: User, world: dict[str, Any]) -> None:
    body = login(viewer).get("/").content.decode()
    assert 'method="post" action="/targets' not in body and 'method="post" action="/feeds' not in body
    assert "Retry" not in body and "Rotate now" not in body and "Check now" not in body


def test_an_admin_may_rotate_the_expiring_token(login: Login, admin: User, world: dict[str, Any]) -> None:
    body = login(admin).get("/").content.decode()
    assert "Rotate now" in body


def test_the_retry_button_pushes_and_comes_back_to_the_overview(
    login: Login, operator: User, world: dict[str, Any]
) -> None:
    response = login(operator).post(f"/targets/deliveries/{world['failed'].pk}/push/", {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert Push.objects.filter(delivery=world["failed"]).exists()


def test_a_failed_delivery_shows_in_its_targets_badge(login: Login, viewer: User, world: dict[str, Any]) -> None:
    response = login(viewer).get("/")
    rows = {row.target.name: row for row in response.context["matrix"]["rows"]}
    assert rows["valohai-prod"].target.health == "ok" and rows["valohai-prod"].badge == "warning"
    assert rows["github-fine"].badge == "ok"
    assert response.context["matrix"]["columns"] == ["authentication"]
    assert [s["status"] for s in rows["databricks-dev"].strip] == ["warning"]


def test_the_navigation_counts_agree_with_the_list(login: Login, viewer: User, world: dict[str, Any]) -> None:
    response = login(viewer).get("/feeds/")
    counts = response.context["nav_counts"]
    assert counts.total == 6 and counts.deliveries == 2 and counts.targets == 1 and counts.rotations == 1
    assert "6 need attention" in response.content.decode()
    assert len(login(viewer).get("/").context["attention"].items) == counts.total


def test_a_later_completed_rotation_clears_the_failed_one(login: Login, viewer: User, world: dict[str, Any]) -> None:
    Rotation.objects.create(feed=world["rotation"].feed, status="completed", phase="done")
    assert ("rotation", "forbidden") not in attention_of(login(viewer))


def test_running_rotations_show_their_progress(login: Login, viewer: User, admin: User) -> None:
    feed = make_feed(admin, "rotating")
    rotation = Rotation.objects.create(feed=feed, status="running", phase="push")
    rotation.steps.create(name="mint", status="done")
    rotation.steps.create(name="test", status="done")
    rotation.steps.create(name="push", status="running")
    response = login(viewer).get("/")
    (progress,) = response.context["rotations"]
    assert (progress.done, progress.total) == (2, 6)
    body = response.content.decode()
    assert 'max="6" value="2"' in body and 'hx-trigger="every 2s"' in body


def test_the_page_polls_slowly_when_nothing_runs(login: Login, viewer: User) -> None:
    body = login(viewer).get("/").content.decode()
    assert 'hx-trigger="every 30s"' in body and "Nothing needs attention." in body


def test_htmx_gets_the_live_part_only(login: Login, viewer: User, world: dict[str, Any]) -> None:
    response = login(viewer).get("/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="live"')
    assert "<nav" not in body and "databricks-dev" in body


def test_a_long_unbroken_name_is_allowed_to_wrap(login: Login, viewer: User, admin: User) -> None:
    make_feed(admin, "x" * 90, token_expires_at=timezone.now() + timedelta(days=1))
    body = login(viewer).get("/").content.decode()
    assert 'class="table-wrap"' in body and "x" * 90 in body


def test_the_number_of_queries_does_not_grow_with_the_rows(
    login: Login, viewer: User, admin: User, django_assert_max_num_queries: Any
) -> None:
    client = login(viewer)
    feed = make_feed(admin, "base")

    def add(n: int) -> None:
        for i in range(n):
            target = make_target(f"t{Target.objects.count()}-{i}", health="failing")
            TargetCheck.objects.create(target=target, status="failing", results=[{"name": "auth", "status": "failing"}])
            make_delivery(feed, target, "failed", error="boom", n=i)
            FeedCheck.objects.create(feed=make_feed(admin, f"f{Feed.objects.count()}"), status="unreachable")

    add(2)
    client.get("/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get("/")
    add(12)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/")
    assert len(response.context["attention"].items) > 24
