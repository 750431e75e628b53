"""The notification pages: channels (admins), history (viewers; retry for operators), the user's opt-in. Each works,
needs login, refuses the wrong role, and answers bad input with a clear error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from feeds.models import Feed
from notifications.models import Channel, Notification, Subscription
from notifications.services import channel_create, channel_test
from simulators.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel(receiver: WebhookReceiver) -> Channel:
    return channel_create(
        actor="test",
        name="ops",
        kind="webhook",
        target=receiver.url("/hooks/secret-part-12345"),
        events=["push.failed"],
    )


def test_the_channel_list_shows_channels_with_a_send_test_button_and_no_url(
    admin_client: Client, channel: Channel
) -> None:
    page = admin_client.get("/notifications/channels/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "ops" in text and "Send test" in text and channel.target_fingerprint in text
    assert "secret-part-12345" not in text


def test_channel_pages_need_login_and_the_admin_role(
    client: Client, login: Callable[[User], Client], operator: User, channel: Channel
) -> None:
    urls = ["/notifications/channels/", "/notifications/channels/new/", f"/notifications/channels/{channel.pk}/edit/"]
    for url in urls:
        assert client.get(url).status_code == 302
        assert login(operator).get(url).status_code == 403
    assert login(operator).post(f"/notifications/channels/{channel.pk}/test/").status_code == 403
    assert login(operator).post(f"/notifications/channels/{channel.pk}/delete/").status_code == 403


def test_an_admin_adds_a_channel(admin_client: Client, receiver: WebhookReceiver) -> None:
    response = admin_client.post(
        "/notifications/channels/new/",
        {"name": "slack", "kind": "slack", "target": receiver.url("/services/T/B/X"), "events": ["token.expiring"]},
    )
    assert response.status_code == 302
    assert Channel.objects.get().events == ["token.expiring"]


def test_bad_input_is_refused_with_a_clear_error(admin_client: Client) -> None:
    response = admin_client.post(
        "/notifications/channels/new/", {"name": "x", "kind": "webhook", "target": "http://hooks.example.com/x"}
    )
    assert response.status_code == 400
    assert "must use https" in response.content.decode()
    missing = admin_client.post("/notifications/channels/new/", {"name": "x", "kind": "webhook", "target": ""})
    assert missing.status_code == 400 and "Enter the e-mail address(es) or the webhook URL." in missing.content.decode()
    assert not Channel.objects.exists()


def test_editing_with_a_blank_target_keeps_the_stored_one(admin_client: Client, channel: Channel) -> None:
    page = admin_client.get(f"/notifications/channels/{channel.pk}/edit/")
    assert page.status_code == 200 and "secret-part-12345" not in page.content.decode()
    response = admin_client.post(
        f"/notifications/channels/{channel.pk}/edit/",
        {"name": "ops2", "kind": "webhook", "target": "", "events": ["health.failing"]},
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "ops2" and channel.reveal_target().endswith("/hooks/secret-part-12345")


def test_send_test_queues_a_message_and_delete_removes_the_channel(admin_client: Client, channel: Channel) -> None:
    assert admin_client.post(f"/notifications/channels/{channel.pk}/test/").status_code == 302
    assert Notification.objects.filter(channel=channel, event="test").count() == 1
    assert admin_client.get(f"/notifications/channels/{channel.pk}/delete/").status_code == 200
    assert admin_client.post(f"/notifications/channels/{channel.pk}/delete/").status_code == 302
    assert not Channel.objects.exists()


def test_the_history_shows_failures_with_their_redacted_error_and_a_retry_for_operators(
    client: Client, login: Callable[[User], Client], viewer: User, operator: User, outsider: User, channel: Channel
) -> None:
    row = channel_test(actor="test", channel=channel)
    Notification.objects.filter(pk=row.pk).update(status="failed", attempts=5, error="127.0.0.1 answered HTTP 500")
    assert client.get("/notifications/").status_code == 302
    assert login(outsider).get("/notifications/").status_code == 403
    page = login(viewer).get("/notifications/")
    assert page.status_code == 200 and "answered HTTP 500" in page.content.decode()
    assert "Retry" not in page.content.decode()
    assert login(viewer).post(f"/notifications/{row.pk}/retry/").status_code == 403
    assert "Retry" in login(operator).get("/notifications/").content.decode()
    assert login(operator).post(f"/notifications/{row.pk}/retry/").status_code == 302
    assert Notification.objects.get(pk=row.pk).status == "pending"
    assert login(viewer).get("/notifications/?status=lost").status_code == 400


def test_a_user_opts_in_to_mail_about_the_feeds_they_own(
    client: Client, login: Callable[[User], Client], viewer: User, outsider: User, make_feed: Callable[..., Feed]
) -> None:
    feed = make_feed()
    assert client.get("/notifications/mine/").status_code == 302
    assert login(outsider).get("/notifications/mine/").status_code == 403
    me = login(viewer)
    assert me.get("/notifications/mine/").status_code == 200
    response = me.post("/notifications/mine/", {"events": ["token.expiring"], "feeds": [feed.pk], "digest": "on"})
    assert response.status_code == 302
    sub = Subscription.objects.get(user=viewer)
    assert sub.events == ["token.expiring"] and list(sub.feeds.all()) == [feed] and sub.digest
    bad = me.post("/notifications/mine/", {"events": ["health.failing"]})
    assert bad.status_code == 400 and "health.failing" in bad.content.decode()
