"""The daily digest: what expires in the next 30 days and what is failing, once a day per recipient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from feeds.models import Feed
from notifications.digest import digests_send
from notifications.models import Notification
from notifications.sending import notification_deliver
from notifications.services import channel_create, subscription_save
from targets.models import Target

pytestmark = pytest.mark.django_db


def test_a_digest_channel_gets_one_digest_a_day_listing_what_expires_and_what_fails(
    make_feed: Callable[..., Feed], target: Target
) -> None:
    channel_create(actor="test", name="mail", kind="email", target="ops@example.com", digest=True)
    make_feed(expires_at=timezone.now() + timedelta(days=12))
    make_feed(name="later", token="later-token-value", expires_at=timezone.now() + timedelta(days=60))
    Target.objects.filter(pk=target.pk).update(health="failing")
    assert digests_send() == 1
    assert digests_send() == 0
    row = Notification.objects.get(event="digest")
    notification_deliver(notification_id=row.pk)
    [message] = mail.outbox
    assert "feed team-feed" in message.body and "later" not in message.body
    assert "target ws-prod is failing" in message.body
    assert digests_send(now=timezone.now() + timedelta(days=1)) == 1


def test_a_subscribed_user_gets_the_digest_of_their_own_feeds(make_feed: Callable[..., Feed], viewer: User) -> None:
    mine = make_feed(expires_at=timezone.now() + timedelta(days=3))
    make_feed(name="theirs", token="their-token-value", expires_at=timezone.now() + timedelta(days=3))
    subscription_save(user=viewer, events=[], feeds=[mine], digest=True)
    assert digests_send() == 1
    row = Notification.objects.get(event="digest")
    assert row.user == viewer and "team-feed" in row.text and "theirs" not in row.text
