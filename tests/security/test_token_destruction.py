"""Retired token versions are destroyed (their ciphertext wiped) once their grace has passed and no rotation can
need them; the row, its fingerprint and the audit trail remain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from audit.models import AuditEvent
from core import crypto
from feeds import services as feed_services
from feeds.models import Feed, TokenVersion
from rotations.models import Rotation, Status
from rotations.retention import token_versions_destroy


@pytest.fixture
def feed(admin: Any) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name="acme-private",
        kind="generic",
        index_url="https://pypi.acme.example/simple/",
        username="ci",
        token="first-token-123",
    )


def replace(feed: Feed, token: str) -> TokenVersion:
    feed_services.feed_set_token(actor="system", feed=feed, token=token)
    return TokenVersion.objects.get(feed=feed, fingerprint=crypto.fingerprint(token))


def old_version(feed: Feed) -> TokenVersion:
    return TokenVersion.objects.get(feed=feed, fingerprint=crypto.fingerprint("first-token-123"))


def test_a_retired_version_is_kept_during_the_grace_and_destroyed_after_it(db: None, feed: Feed) -> None:
    replace(feed, "second-token-456")
    grace = timedelta(hours=feed.rotation_grace_hours)
    assert token_versions_destroy(now=timezone.now() + grace - timedelta(minutes=1)) == 0
    assert old_version(feed).reveal() == "first-token-123"
    assert token_versions_destroy(now=timezone.now() + grace + timedelta(minutes=1)) == 1
    version = old_version(feed)
    assert version.ciphertext == "" and version.fingerprint == crypto.fingerprint("first-token-123")
    with pytest.raises(crypto.DecryptionError, match="destroyed"):
        version.reveal()
    event = AuditEvent.objects.get(action="token.destroy")
    assert event.detail["fingerprint"] == version.fingerprint and "first-token-123" not in str(event.detail)


def test_the_current_token_is_never_destroyed(db: None, feed: Feed) -> None:
    assert token_versions_destroy(now=timezone.now() + timedelta(days=3650)) == 0
    assert Feed.objects.get(pk=feed.pk).current_token.reveal() == "first-token-123"  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [Status.RUNNING, Status.FAILED])
def test_the_previous_token_of_a_rotation_that_may_roll_back_is_kept(db: None, feed: Feed, status: str) -> None:
    new = replace(feed, "second-token-456")
    Rotation.objects.create(feed=feed, status=status, previous_token=old_version(feed), new_token=new)
    assert token_versions_destroy(now=timezone.now() + timedelta(days=3650)) == 0
    assert old_version(feed).reveal() == "first-token-123"


def test_a_previous_version_waits_for_the_longest_grace_and_a_revocation_not_yet_done(db: None, feed: Feed) -> None:
    new = replace(feed, "second-token-456")
    TokenVersion.objects.filter(pk=old_version(feed).pk).update(stage=TokenVersion.Stage.PREVIOUS)
    rotation = Rotation.objects.create(
        feed=feed, status=Status.COMPLETED, previous_token=old_version(feed), new_token=new, revoke_done=False
    )
    later = timezone.now() + timedelta(hours=settings.ROTATION_MAX_GRACE_HOURS + 1)
    assert token_versions_destroy(now=later) == 0
    Rotation.objects.filter(pk=rotation.pk).update(revoke_done=True)
    assert token_versions_destroy(now=timezone.now() + timedelta(hours=feed.rotation_grace_hours + 1)) == 0
    assert token_versions_destroy(now=later) == 1


def test_beat_runs_the_destruction_hourly() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["destroy-retired-tokens"]
    assert entry["task"] == "dashboard.destroy_retired_tokens" and entry["schedule"] <= 60 * 60
    from config.celery_app import app

    app.loader.import_default_modules()
    assert "dashboard.destroy_retired_tokens" in app.tasks
