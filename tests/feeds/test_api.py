"""`/api/v1/feeds/`, `/api/v1/feeds/{id}/check/` and `/api/v1/checks/{id}/` against the API contract."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from feeds.models import Feed, TokenVersion
from tests.feeds.conftest import FEED_TOKEN

Api = Callable[[User], APIClient]

API_TOKEN = "api-token-0c8e5f2a"
CONTRACT_FIELDS = {"id", "name", "kind", "index_url", "username", "token_expires_at", "fingerprint", "expiry_status"}


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "api-feed",
        "kind": "generic",
        "index_url": "https://pypi.api.example/simple/",
        "username": "bot",
        "token": API_TOKEN,
    }
    data.update(overrides)
    return data


def in_days(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


# --- reading -----------------------------------------------------------------------------------------------------


def test_a_viewer_lists_feeds_paginated_with_the_contract_fields_and_no_token(
    api: Api, viewer: User, feed: Feed
) -> None:
    response = api(viewer).get("/api/v1/feeds/")
    data = response.json()
    assert response.status_code == 200
    assert set(data) == {"count", "next", "previous", "results"} and data["count"] == 1
    item = data["results"][0]
    assert CONTRACT_FIELDS <= set(item) and "token" not in item
    assert item["fingerprint"] == feed.fingerprint and item["expiry_status"] == "unknown"
    assert FEED_TOKEN not in response.content.decode()


def test_a_viewer_reads_one_feed(api: Api, viewer: User, feed: Feed) -> None:
    data = api(viewer).get(f"/api/v1/feeds/{feed.pk}/").json()
    assert (data["id"], data["name"], data["index_url"], data["username"]) == (
        feed.pk,
        "acme-private",
        "https://pypi.acme.example/simple/",
        "ci",
    )
    assert "token" not in data


def test_an_unknown_feed_is_404(api: Api, viewer: User, db: None) -> None:
    assert api(viewer).get("/api/v1/feeds/999/").status_code == 404


def test_an_outsider_with_no_role_gets_403(api: Api, outsider: User, feed: Feed) -> None:
    client = api(outsider)
    assert client.get("/api/v1/feeds/").status_code == 403
    assert client.get(f"/api/v1/feeds/{feed.pk}/").status_code == 403
    assert client.post(f"/api/v1/feeds/{feed.pk}/check/").status_code == 403


@pytest.mark.parametrize(("days", "status"), [(None, "unknown"), (90, "ok"), (5, "expiring"), (-1, "expired")], ids=str)
def test_expiry_status_is_ok_expiring_expired_or_unknown(
    api: Api, viewer: User, feed: Feed, days: int | None, status: str
) -> None:
    expires = None if days is None else timezone.now() + timedelta(days=days)
    TokenVersion.objects.filter(pk=feed.current_token_id).update(expires_at=expires)
    data = api(viewer).get(f"/api/v1/feeds/{feed.pk}/").json()
    assert data["expiry_status"] == status
    assert (data["token_expires_at"] is None) == (days is None)


# --- writing -----------------------------------------------------------------------------------------------------


def test_an_admin_creates_a_feed_and_the_answer_never_holds_the_token(api: Api, admin: User) -> None:
    response = api(admin).post("/api/v1/feeds/", body(token_expires_at=in_days(60)), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    feed = Feed.objects.get(name="api-feed")
    assert CONTRACT_FIELDS <= set(data) and "token" not in data
    assert API_TOKEN not in response.content.decode()
    assert data["fingerprint"] == feed.fingerprint and data["expiry_status"] == "ok"
    assert feed.current_token.reveal() == API_TOKEN


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_viewers_and_operators_may_not_create_edit_or_delete(
    request: pytest.FixtureRequest, api: Api, feed: Feed, role: str
) -> None:
    client = api(request.getfixturevalue(role))
    assert client.post("/api/v1/feeds/", body(), format="json").status_code == 403
    assert client.patch(f"/api/v1/feeds/{feed.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.patch(f"/api/v1/feeds/{feed.pk}/", {"token": "other-123"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/feeds/{feed.pk}/").status_code == 403
    feed.refresh_from_db()
    assert (Feed.objects.count(), feed.name, feed.current_token.reveal()) == (1, "acme-private", FEED_TOKEN)


def test_it_rejects_an_index_url_with_embedded_credentials_with_a_400_that_does_not_repeat_them(
    api: Api, admin: User
) -> None:
    url = "https://robot:leaky-pass-42@pypi.api.example/simple/"
    response = api(admin).post("/api/v1/feeds/", body(index_url=url), format="json")
    assert response.status_code == 400
    assert "must not contain credentials" in response.json()["index_url"][0]
    assert "leaky-pass-42" not in response.content.decode() and "robot" not in response.content.decode()
    assert not Feed.objects.exists()


def test_patching_in_an_index_url_with_credentials_is_refused_without_repeating_them(
    api: Api, admin: User, feed: Feed
) -> None:
    url = "https://ci:leaky-pass-43@pypi.acme.example/simple/"
    response = api(admin).patch(f"/api/v1/feeds/{feed.pk}/", {"index_url": url}, format="json")
    assert response.status_code == 400 and "leaky-pass-43" not in response.content.decode()


def test_a_feed_needs_a_token(api: Api, admin: User) -> None:
    response = api(admin).post("/api/v1/feeds/", body(token=None) | {"token": ""}, format="json")
    assert response.status_code == 400 and "token" in response.json()
    data = body()
    del data["token"]
    response = api(admin).post("/api/v1/feeds/", data, format="json")
    assert response.status_code == 400 and response.json() == {"token": ["This field is required."]}
    assert not Feed.objects.exists()


def test_a_duplicate_name_is_a_400(api: Api, admin: User, feed: Feed) -> None:
    response = api(admin).post("/api/v1/feeds/", body(name="acme-private"), format="json")
    assert response.status_code == 400
    assert response.json() == {"name": ["A feed with this name already exists."]}


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "nexus"},
        {"kind": ["generic"]},
        {"name": None},
        {"name": ["a", "b"]},
        {"token": {"value": "x"}},
        {"token": " padded-token "},
        {"token_expires_at": "next tuesday"},
        {"token_expires_at": "2020-01-01T00:00:00Z"},
        {"index_url": "http://pypi.api.example/simple/"},
        {"index_url": "https://169.254.169.254/latest/"},
        {"index_url": "https://[::1/simple/"},
        {"index_url": 12},
        {"index_url": "https://pypi.api.example:99999/simple/"},
        {"kind": "jfrog", "index_url": "", "base_url": "https://acme.jfrog.io", "repository": "py", "username": ""},
        {"kind": "azure_devops", "index_url": "", "organization": "acme"},
    ],
    ids=lambda o: ",".join(o),
)
def test_bad_input_is_a_400_never_a_500(api: Api, admin: User, overrides: dict[str, Any]) -> None:
    response = api(admin).post("/api/v1/feeds/", body(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert isinstance(response.json(), dict)
    assert API_TOKEN not in response.content.decode()
    assert not Feed.objects.exists()


@pytest.mark.parametrize(
    ("payload", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"a string"', "application/json", 400),
        (b"null", "application/json", 400),
        (b"name=x&token=y", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe", "application/json", 400),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_never_a_500(
    api: Api, admin: User, feed: Feed, payload: bytes, content_type: str, status: int
) -> None:
    client = api(admin)
    assert client.post("/api/v1/feeds/", payload, content_type=content_type).status_code == status
    assert client.patch(f"/api/v1/feeds/{feed.pk}/", payload, content_type=content_type).status_code == status


def test_patching_the_token_replaces_it_and_retires_the_old_version(api: Api, admin: User, feed: Feed) -> None:
    old = feed.current_token
    response = api(admin).patch(f"/api/v1/feeds/{feed.pk}/", {"token": API_TOKEN}, format="json")
    assert response.status_code == 200, response.content
    feed.refresh_from_db()
    old.refresh_from_db()
    assert response.json()["fingerprint"] == feed.fingerprint != old.fingerprint
    assert feed.current_token.reveal() == API_TOKEN and old.retired_at is not None
    assert API_TOKEN not in response.content.decode() and "token" not in response.json()


def test_patching_the_token_with_its_expiry_sets_both(api: Api, admin: User, feed: Feed) -> None:
    payload = {"token": API_TOKEN, "token_expires_at": in_days(5)}
    data = api(admin).patch(f"/api/v1/feeds/{feed.pk}/", payload, format="json").json()
    assert data["expiry_status"] == "expiring" and data["token_expires_at"] is not None


def test_patching_only_the_expiry_changes_it_and_keeps_the_token(api: Api, admin: User, feed: Feed) -> None:
    fingerprint = feed.fingerprint
    response = api(admin).patch(f"/api/v1/feeds/{feed.pk}/", {"token_expires_at": in_days(90)}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["expiry_status"] == "ok" and data["fingerprint"] == fingerprint
    assert TokenVersion.objects.filter(feed=feed).count() == 1
    assert AuditEvent.objects.filter(action="feed.token_expiry_set").exists()
    cleared = api(admin).patch(f"/api/v1/feeds/{feed.pk}/", {"token_expires_at": None}, format="json").json()
    assert cleared["expiry_status"] == "unknown"


def test_patching_a_past_expiry_is_a_400(api: Api, admin: User, feed: Feed) -> None:
    response = api(admin).patch(f"/api/v1/feeds/{feed.pk}/", {"token_expires_at": in_days(-1)}, format="json")
    assert response.status_code == 400 and "in the past" in response.json()["token_expires_at"][0]


def test_patching_the_definition_keeps_the_token(api: Api, admin: User, feed: Feed) -> None:
    response = api(admin).patch(f"/api/v1/feeds/{feed.pk}/", {"name": "renamed", "username": "ci2"}, format="json")
    assert response.status_code == 200
    feed.refresh_from_db()
    assert (feed.name, feed.username, feed.current_token.reveal()) == ("renamed", "ci2", FEED_TOKEN)


def test_an_admin_deletes_a_feed(api: Api, admin: User, feed: Feed) -> None:
    assert api(admin).delete(f"/api/v1/feeds/{feed.pk}/").status_code == 204
    assert not Feed.objects.exists()


# --- checks ------------------------------------------------------------------------------------------------------


def test_an_operator_starts_a_check_that_ends_ok(
    api: Api,
    operator: User,
    feed: Feed,
    fake_index: Callable[..., None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    seen: list[httpx.Request] = []

    def index(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, html="<html></html>")

    fake_index(index)
    client = api(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/feeds/{feed.pk}/check/")
    assert response.status_code == 202 and set(response.json()) == {"id"}
    record = client.get(f"/api/v1/checks/{response.json()['id']}/").json()
    assert (record["status"], record["http_status"], record["fingerprint"]) == ("ok", 200, feed.fingerprint)
    assert record["finished_at"] is not None
    assert str(seen[0].url) == feed.index_url and "authorization" in seen[0].headers
    assert FEED_TOKEN not in str(record)


@pytest.mark.parametrize(
    ("answer", "status"),
    [(401, "unauthorized"), (403, "forbidden"), (404, "not_found"), (500, "error")],
)
def test_a_check_ends_in_the_status_the_index_answer_means(
    api: Api,
    operator: User,
    feed: Feed,
    fake_index: Callable[..., None],
    django_capture_on_commit_callbacks: Any,
    answer: int,
    status: str,
) -> None:
    fake_index(lambda request: httpx.Response(answer, text=f"echo {request.headers['authorization']}"))
    client = api(operator)
    with django_capture_on_commit_callbacks(execute=True):
        check_id = client.post(f"/api/v1/feeds/{feed.pk}/check/").json()["id"]
    response = client.get(f"/api/v1/checks/{check_id}/")
    record = response.json()
    assert (record["status"], record["http_status"]) == (status, answer)
    assert FEED_TOKEN not in response.content.decode()


def test_a_check_of_an_unreachable_index_ends_unreachable(
    api: Api,
    operator: User,
    feed: Feed,
    fake_index: Callable[..., None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    fake_index(refuse)
    client = api(operator)
    with django_capture_on_commit_callbacks(execute=True):
        check_id = client.post(f"/api/v1/feeds/{feed.pk}/check/").json()["id"]
    record = client.get(f"/api/v1/checks/{check_id}/").json()
    assert record["status"] == "unreachable" and "refused" in record["detail"]


def test_a_viewer_may_read_checks_but_not_start_one(api: Api, viewer: User, feed: Feed) -> None:
    client = api(viewer)
    assert client.post(f"/api/v1/feeds/{feed.pk}/check/").status_code == 403
    assert client.get("/api/v1/feed-checks/").status_code == 200
    assert client.get("/api/v1/checks/999/").status_code == 404


def test_a_pending_check_reads_as_pending(api: Api, operator: User, feed: Feed) -> None:
    client = api(operator)
    check_id = client.post(f"/api/v1/feeds/{feed.pk}/check/").json()["id"]
    assert client.get(f"/api/v1/checks/{check_id}/").json()["status"] == "pending"
    listed = client.get("/api/v1/feed-checks/").json()
    assert listed["count"] == 2, "the check queued when the feed was created, and this one"
    assert listed["results"][0]["id"] == check_id
