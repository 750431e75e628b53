"""The rotation contract in the JSON API: feeds' rotation fields, rotate (and its dry run), dependents, the
rotation records with retry and rollback, and connections, by role, with no secret in any answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from feeds import services as feed_services
from feeds.models import Connection, Feed
from rotations import services
from rotations.models import Rotation, Status

Api = Callable[[User], APIClient]
OLD = "old-token-canary-7c1e"
NEW = "new-token-canary-11fe"
JFROG = "jfrog-admin-token-canary-55aa"


@pytest.fixture(autouse=True)
def no_worker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    started: list[int] = []
    monkeypatch.setattr(services, "_enqueue", lambda rotation, countdown=None: started.append(rotation.pk))
    return started


@pytest.fixture
def feed(admin: User) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name="acme",
        kind="jfrog",
        base_url="https://acme.jfrog.example",
        repository="pypi-local",
        username="ci",
        token=OLD,
    )


def _body(response: Any) -> str:
    return json.dumps(response.json()) if response.content else ""


def test_a_feed_shows_and_takes_its_rotation_settings(api: Api, admin: User, feed: Feed) -> None:
    client = api(admin)
    conn = client.post(
        "/api/v1/connections/",
        {"name": "jf", "kind": "jfrog", "url": "https://acme.jfrog.example", "token": JFROG},
        format="json",
    )
    assert conn.status_code == 201, conn.content
    assert JFROG not in _body(conn) and conn.json()["fingerprint"]
    response = client.patch(
        f"/api/v1/feeds/{feed.pk}/",
        {"rotation_connection": conn.json()["id"], "rotation_interval_days": 30, "token_lifetime_days": 60},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["rotation_connection"], data["rotation_interval_days"], data["token_lifetime_days"]) == (
        conn.json()["id"],
        30,
        60,
    )
    assert data["rotation_lead_days"] == 14 and data["rotation_grace_hours"] == 24
    assert data["next_rotation_at"] is not None
    bad = client.patch(f"/api/v1/feeds/{feed.pk}/", {"token_lifetime_days": 0}, format="json")
    assert bad.status_code == 400 and "token_lifetime_days" in bad.json()


def test_a_connection_of_another_kind_is_refused_for_a_feed(api: Api, admin: User, feed: Feed) -> None:
    conn = Connection.objects.create(name="ado", kind="azure_devops", url="https://vssps.dev.azure.com/acme")
    response = api(admin).patch(f"/api/v1/feeds/{feed.pk}/", {"rotation_connection": conn.pk}, format="json")
    assert response.status_code == 400 and "rotation_connection" in response.json()


def test_rotate_with_a_pasted_token_answers_202_then_a_second_request_400_naming_the_first(
    api: Api, operator: User, feed: Feed, no_worker: list[int]
) -> None:
    client = api(operator)
    response = client.post(f"/api/v1/feeds/{feed.pk}/rotate/", {"token": NEW}, format="json")
    assert response.status_code == 202, response.content
    rotation_id = response.json()["id"]
    assert no_worker == [rotation_id]
    again = client.post(f"/api/v1/feeds/{feed.pk}/rotate/", {"token": "yet-another-token"}, format="json")
    assert again.status_code == 400 and f"Rotation {rotation_id}" in _body(again)
    detail = client.get(f"/api/v1/rotations/{rotation_id}/").json()
    assert detail["status"] == "running" and detail["trigger"] == "manual" and detail["feed"] == feed.pk
    assert [s["name"] for s in detail["steps"]] == ["mint", "test", "push", "verify", "promote", "revoke"]
    assert detail["steps"][0]["status"] == "skipped" and detail["previous_fingerprint"] == feed.fingerprint
    assert client.get(f"/api/v1/rotations/?feed={feed.pk}").json()["count"] == 1
    assert client.get(f"/api/v1/rotations/?feed={feed.pk + 1}").json()["count"] == 0
    for r in (response, again, client.get(f"/api/v1/rotations/{rotation_id}/")):
        assert NEW not in _body(r) and OLD not in _body(r)


def test_rotate_without_connection_or_token_is_a_clear_400(api: Api, operator: User, feed: Feed) -> None:
    response = api(operator).post(f"/api/v1/feeds/{feed.pk}/rotate/", {}, format="json")
    assert response.status_code == 400 and "paste the new token" in _body(response)
    assert not Rotation.objects.exists()


def test_a_dry_run_changes_nothing(api: Api, operator: User, feed: Feed) -> None:
    response = api(operator).post(f"/api/v1/feeds/{feed.pk}/rotate/", {"dry_run": True}, format="json")
    assert response.status_code == 200
    plan = response.json()
    assert plan["mint"] == "pasted by an admin" and plan["deliveries"] == 0 and plan["blocked_by"] is None
    assert not Rotation.objects.exists()


def test_viewers_read_but_cannot_rotate_retry_or_touch_connections(
    api: Api, viewer: User, admin: User, feed: Feed
) -> None:
    rotation = services.rotation_request(actor=admin, feed=feed, token=NEW)
    client = api(viewer)
    assert client.post(f"/api/v1/feeds/{feed.pk}/rotate/", {"token": "x-token-1"}, format="json").status_code == 403
    assert client.post(f"/api/v1/rotations/{rotation.pk}/retry/").status_code == 403
    assert client.post(f"/api/v1/rotations/{rotation.pk}/rollback/").status_code == 403
    assert client.get(f"/api/v1/rotations/{rotation.pk}/").status_code == 200
    assert client.get(f"/api/v1/feeds/{feed.pk}/dependents/").status_code == 200
    assert client.get("/api/v1/connections/").status_code == 403


def test_retry_and_rollback_of_a_running_rotation_are_refused_with_a_reason(
    api: Api, operator: User, admin: User, feed: Feed
) -> None:
    rotation = services.rotation_request(actor=admin, feed=feed, token=NEW)
    client = api(operator)
    retry = client.post(f"/api/v1/rotations/{rotation.pk}/retry/")
    assert retry.status_code == 400 and "Only a failed rotation" in _body(retry)
    rollback = client.post(f"/api/v1/rotations/{rotation.pk}/rollback/")
    assert rollback.status_code == 400 and "rolled back" in _body(rollback)
    assert Rotation.objects.get(pk=rotation.pk).status == Status.RUNNING


def test_connections_keep_secrets_write_only_and_refuse_a_new_origin_without_them(api: Api, admin: User) -> None:
    client = api(admin)
    created = client.post(
        "/api/v1/connections/",
        {"name": "jf", "kind": "jfrog", "url": "https://acme.jfrog.example", "token": JFROG},
        format="json",
    )
    pk = created.json()["id"]
    moved = client.patch(f"/api/v1/connections/{pk}/", {"url": "https://evil.example"}, format="json")
    assert moved.status_code == 400 and "token" in moved.json()
    assert Connection.objects.get(pk=pk).url == "https://acme.jfrog.example"
    renamed = client.patch(f"/api/v1/connections/{pk}/", {"name": "jfrog-prod"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "jfrog-prod"
    foreign = client.post(
        "/api/v1/connections/",
        {"name": "x", "kind": "jfrog", "url": "https://a.example", "token": "t-123", "client_secret": "s"},
        format="json",
    )
    assert foreign.status_code == 400 and "client_secret" in foreign.json()
    listing = client.get("/api/v1/connections/")
    assert JFROG not in _body(listing) and listing.json()["count"] == 1
    assert Connection.objects.get(pk=pk).reveal("credential") == JFROG


def test_a_connection_in_use_cannot_be_deleted(api: Api, admin: User, feed: Feed) -> None:
    conn = Connection(name="jf", kind="jfrog", url="https://acme.jfrog.example")
    conn.set_secret("credential", JFROG)
    conn.save()
    feed_services.feed_update(actor=admin, feed=feed, rotation_connection=conn.pk)
    response = api(admin).delete(f"/api/v1/connections/{conn.pk}/")
    assert response.status_code == 400 and "acme" in _body(response)
    assert Connection.objects.filter(pk=conn.pk).exists()
