"""The API of notifications: channels (admins only, write-only target, 400 on bad input), the test message, and
the notification records with their filters and retry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from notifications.models import Channel, Notification
from simulators.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

URL = "/api/v1/notification-channels/"


def test_an_admin_creates_a_channel_and_never_reads_its_target_back(
    admin: User, api: Callable[[User], APIClient], receiver: WebhookReceiver
) -> None:
    client = api(admin)
    hook = receiver.url("/hooks/secret-part-12345")
    response = client.post(
        URL,
        {"name": "ops", "kind": "webhook", "target": hook, "events": ["token.expiring", "push.failed"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert {"id", "name", "kind", "events", "fingerprint"} <= set(body) and "target" not in body
    assert body["events"] == ["token.expiring", "push.failed"]
    listed = client.get(URL)
    assert listed.status_code == 200 and "secret-part-12345" not in listed.content.decode()
    channel = Channel.objects.get()
    assert channel.reveal_target() == hook and "secret-part" not in channel.target


def test_an_update_without_target_keeps_the_stored_one(
    admin: User, api: Callable[[User], APIClient], receiver: WebhookReceiver
) -> None:
    client = api(admin)
    pk = client.post(URL, {"name": "ops", "kind": "slack", "target": receiver.url("/a")}, format="json").json()["id"]
    response = client.patch(f"{URL}{pk}/", {"events": ["health.failing"]}, format="json")
    assert response.status_code == 200, response.content
    channel = Channel.objects.get()
    assert channel.reveal_target() == receiver.url("/a") and channel.events == ["health.failing"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "kind": "pager", "target": "https://hooks.example.com/x"}, "kind"),
        ({"name": "x", "kind": "webhook"}, "target"),
        ({"name": "x", "kind": "webhook", "target": "http://hooks.example.com/x"}, "target"),
        ({"name": "x", "kind": "webhook", "target": "https://user:pw@hooks.example.com/x"}, "target"),
        ({"name": "x", "kind": "webhook", "target": "https://169.254.169.254/latest"}, "target"),
        ({"name": "x", "kind": "email", "target": "not an address"}, "target"),
        ({"name": "x", "kind": "webhook", "target": "https://hooks.example.com/x", "events": ["nope"]}, "events"),
        ({"name": "x", "kind": "webhook", "target": "https://hooks.example.com/x", "digest": True}, "digest"),
    ],
)
def test_bad_input_answers_400_naming_the_field_without_echoing_secrets(
    admin: User, api: Callable[[User], APIClient], payload: dict[str, object], field: str
) -> None:
    response = api(admin).post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert "pw@" not in response.content.decode()


def test_a_duplicate_name_answers_400(admin: User, api: Callable[[User], APIClient]) -> None:
    client = api(admin)
    payload = {"name": "ops", "kind": "email", "target": "ops@example.com"}
    assert client.post(URL, payload, format="json").status_code == 201
    assert client.post(URL, {**payload, "name": "OPS"}, format="json").json() == {
        "name": ["A channel with this name already exists."]
    }


def test_only_admins_see_or_manage_channels(operator: User, viewer: User, api: Callable[[User], APIClient]) -> None:
    for user in (operator, viewer):
        assert api(user).get(URL).status_code == 403
        assert api(user).post(URL, {"name": "x", "kind": "email", "target": "a@example.com"}).status_code == 403
    assert APIClient().get(URL).status_code == 401


def test_test_answers_202_and_the_message_arrives(
    admin: User, api: Callable[[User], APIClient], receiver: WebhookReceiver, django_capture_on_commit_callbacks: object
) -> None:
    client = api(admin)
    pk = client.post(URL, {"name": "ops", "kind": "webhook", "target": receiver.url()}, format="json").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = client.post(f"{URL}{pk}/test/")
    assert response.status_code == 202
    record = client.get(f"/api/v1/notifications/{response.json()['id']}/").json()
    assert record["status"] == "sent" and record["event"] == "test" and record["channel"] == pk
    assert receiver.bodies()[0]["event"] == "test"


def test_notification_records_have_the_contract_fields_and_filters(
    admin: User, viewer: User, api: Callable[[User], APIClient]
) -> None:
    client = api(admin)
    pk = client.post(URL, {"name": "m", "kind": "email", "target": "a@example.com"}, format="json").json()["id"]
    client.post(f"{URL}{pk}/test/")
    listed = api(viewer).get("/api/v1/notifications/")
    assert listed.status_code == 200
    [record] = listed.json()["results"]
    contract = {"id", "channel", "event", "subject", "status", "attempts", "sent_at", "object_type", "object_id"}
    assert contract <= set(record)
    assert api(viewer).get("/api/v1/notifications/?status=failed").json()["count"] == 0
    bad = api(viewer).get("/api/v1/notifications/?status=lost")
    assert bad.status_code == 400 and "status" in bad.json()


def test_an_operator_retries_a_failed_notification_and_a_viewer_may_not(
    admin: User, operator: User, viewer: User, api: Callable[[User], APIClient]
) -> None:
    pk = api(admin).post(URL, {"name": "m", "kind": "email", "target": "a@example.com"}, format="json").json()["id"]
    row_id = api(admin).post(f"{URL}{pk}/test/").json()["id"]
    assert api(operator).post(f"/api/v1/notifications/{row_id}/retry/").status_code == 400  # pending, not failed
    Notification.objects.filter(pk=row_id).update(status="failed", attempts=5, error="x answered HTTP 500")
    assert api(viewer).post(f"/api/v1/notifications/{row_id}/retry/").status_code == 403
    response = api(operator).post(f"/api/v1/notifications/{row_id}/retry/")
    assert response.status_code == 202 and response.json()["status"] == "pending"
    assert Notification.objects.get(pk=row_id).attempts == 0
