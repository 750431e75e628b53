"""Feed model behaviour: expiry status, the credentialed URL, and a token version that never shows its value."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote, urlsplit

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from feeds import services
from feeds.models import Feed, expiry_status_of, render_credentialed_url

NOW = timezone.now()


@pytest.mark.parametrize(
    ("expires_at", "status"),
    [
        (None, "unknown"),
        (NOW - timedelta(seconds=1), "expired"),
        (NOW, "expired"),
        (NOW + timedelta(days=1), "expiring"),
        (NOW + timedelta(days=30), "expiring"),
        (NOW + timedelta(days=30, seconds=1), "ok"),
    ],
)
def test_expiry_status_follows_the_warning_window(expires_at: object, status: str) -> None:
    assert expiry_status_of(expires_at, now=NOW) == status


def test_the_warning_window_is_a_setting(settings: object) -> None:
    settings.EXPIRY_WARNING_DAYS = 7  # type: ignore[attr-defined]
    assert expiry_status_of(NOW + timedelta(days=20), now=NOW) == "ok"
    assert expiry_status_of(NOW + timedelta(days=6), now=NOW) == "expiring"


def test_the_credentialed_url_percent_encodes_username_and_token() -> None:
    url = render_credentialed_url("https://h.example:8443/simple/", "me@corp", "p@ss:w/rd%#?&= x+")
    parts = urlsplit(url)
    assert url == "https://me%40corp:p%40ss%3Aw%2Frd%25%23%3F%26%3D%20x%2B@h.example:8443/simple/"
    assert (parts.hostname, parts.port, parts.path) == ("h.example", 8443, "/simple/")
    assert (unquote(parts.username or ""), unquote(parts.password or "")) == ("me@corp", "p@ss:w/rd%#?&= x+")


def test_without_a_username_the_token_is_the_whole_userinfo() -> None:
    assert render_credentialed_url("https://h/simple/", "", "tok") == "https://tok@h/simple/"


def test_azure_devops_feeds_put_their_default_username_before_the_token(admin: User) -> None:
    feed = services.feed_create(
        actor=admin, name="ado", kind="azure_devops", organization="o", feed_name="f", token="pat-123456"
    )
    assert feed.credentialed_url() == "https://feedkeeper:pat-123456@pkgs.dev.azure.com/o/_packaging/f/pypi/simple/"


def test_a_token_version_never_shows_its_value(admin: User) -> None:
    feed = services.feed_create(actor=admin, name="f", kind="generic", index_url="https://h/s/", token="hidden-123")
    version = feed.current_token
    for text in (str(version), repr(version), str(feed), repr(feed), version.ciphertext):
        assert "hidden-123" not in text
    assert version.reveal() == "hidden-123"


def test_a_feed_without_a_token_has_no_credentialed_url(db: None) -> None:
    feed = Feed.objects.create(name="bare", index_url="https://h/s/")
    assert feed.fingerprint == "" and feed.expiry_status() == "unknown"
    with pytest.raises(ValueError, match="has no token"):
        feed.credentialed_url()
