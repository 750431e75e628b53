"""Every feed service writes its audit event in the same transaction, with fingerprints and never the token."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.utils import timezone

from audit.models import AuditEvent
from core import crypto, http
from feeds import services
from feeds.models import Feed

TOKEN = "audited-token-31337"
NEXT_TOKEN = "audited-token-next-4242"


def events_text() -> str:
    return json.dumps([model_to_dict(e) for e in AuditEvent.objects.all()], default=str)


@pytest.fixture
def feed(admin: User) -> Feed:
    return services.feed_create(
        actor=admin, name="audited", kind="generic", index_url="https://a.example/simple/", username="u", token=TOKEN
    )


def test_creating_records_the_fingerprint_not_the_token(feed: Feed, admin: User) -> None:
    event = AuditEvent.objects.get(action="feed.create")
    assert (event.actor, event.object_type, event.object_id, event.object_repr) == (
        admin,
        "feed",
        str(feed.pk),
        "audited",
    )
    assert event.detail["fingerprint"] == crypto.fingerprint(TOKEN)
    assert event.detail["index_url"] == "https://a.example/simple/"
    assert TOKEN not in events_text()


def test_updating_records_what_changed(feed: Feed, admin: User) -> None:
    services.feed_update(actor=admin, feed=feed, name="renamed", username="someone-else")
    event = AuditEvent.objects.get(action="feed.update")
    assert event.detail == {"changed": {"name": ["audited", "renamed"], "username": "changed"}}
    assert "someone-else" not in events_text()


def test_an_update_that_changes_nothing_records_nothing(feed: Feed, admin: User) -> None:
    services.feed_update(actor=admin, feed=feed, name="audited")
    assert not AuditEvent.objects.filter(action="feed.update").exists()


def test_replacing_the_token_records_both_fingerprints(feed: Feed, admin: User) -> None:
    expires = timezone.now() + timedelta(days=30)
    services.feed_set_token(actor=admin, feed=feed, token=NEXT_TOKEN, expires_at=expires)
    event = AuditEvent.objects.get(action="feed.token_replace")
    assert event.detail["fingerprint"] == crypto.fingerprint(NEXT_TOKEN)
    assert event.detail["previous_fingerprint"] == crypto.fingerprint(TOKEN)
    assert event.detail["token_expires_at"] == expires.isoformat() and event.detail["source"] == "manual"
    assert TOKEN not in events_text() and NEXT_TOKEN not in events_text()


def test_deleting_records_the_fingerprint(feed: Feed, admin: User) -> None:
    pk = feed.pk
    services.feed_delete(actor=admin, feed=feed)
    event = AuditEvent.objects.get(action="feed.delete")
    assert event.object_id == str(pk) and event.detail["fingerprint"] == crypto.fingerprint(TOKEN)
    assert event.detail["dependents"] == {}


def test_a_check_records_its_outcome_and_fingerprint(
    feed: Feed, operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(401, text=f"bad {TOKEN}")))
    monkeypatch.setattr(http, "client", lambda: client)
    check = services.feed_check_request(actor=operator, feed=feed)
    services.feed_check_run(check_id=check.pk)
    event = AuditEvent.objects.get(action="feed.check")
    assert (event.actor, event.outcome) == (operator, "failure")
    assert event.detail["status"] == "unauthorized" and event.detail["http_status"] == 401
    assert event.detail["fingerprint"] == crypto.fingerprint(TOKEN) and event.detail["check"] == check.pk
    assert TOKEN not in events_text()


def test_a_scheduled_check_is_recorded_as_the_scheduler(feed: Feed, monkeypatch: pytest.MonkeyPatch) -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, html="<html></html>")))
    monkeypatch.setattr(http, "client", lambda: client)
    (check,) = services.feeds_check_all()
    services.feed_check_run(check_id=check.pk)
    event = AuditEvent.objects.get(action="feed.check")
    assert (event.actor_name, event.outcome) == ("scheduler", "success")


def test_a_refused_change_records_nothing_and_changes_nothing(feed: Feed, admin: User) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        services.feed_set_token(actor=admin, feed=feed, token="")
    with pytest.raises(ValidationError):
        services.feed_update(actor=admin, feed=feed, index_url="https://x:y-secret@a.example/")
    with pytest.raises(ValidationError):
        services.feed_create(actor=admin, name="audited", kind="generic", index_url="https://b.example/", token="t-1")
    assert AuditEvent.objects.count() == before
    feed.refresh_from_db()
    assert feed.current_token.reveal() == TOKEN
