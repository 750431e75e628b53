"""Configuration rights never become read rights: pointing a feed, a target or a connection at another origin
needs its credential entered again; and a secret stays out of error reports and log lines of every handler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.views.debug import SafeExceptionReporterFilter
from rest_framework.test import APIClient

from core.redaction import RedactingFilter, redact
from core.urlpolicy import origin
from feeds import services as feed_services
from feeds.models import Feed
from targets import services as target_services
from targets.models import Target

Api = Callable[[User], APIClient]


@pytest.fixture
def feed(admin: User) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name="acme-private",
        kind="generic",
        index_url="https://pypi.acme.example/simple/",
        username="ci",
        token="feed-token-origin-1",
    )


@pytest.fixture
def target(admin: User) -> Target:
    target = Target.objects.create(
        name="gh", kind="github", url="https://api.github.com", auth_type="token", config={"organization": "acme"}
    )
    target.set_credential("ghp-origin-credential")
    target.save()
    return target


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://h.example/simple/", "https://h.example/other/", True),
        ("https://h.example/simple/", "https://H.example:443/x", True),
        ("https://h.example/simple/", "http://h.example/simple/", False),
        ("https://h.example/simple/", "https://h.example:8443/simple/", False),
        ("https://h.example/simple/", "https://evil.example/simple/", False),
    ],
)
def test_the_origin_is_scheme_host_and_port(a: str, b: str, same: bool) -> None:
    assert (origin(a) == origin(b)) is same


def test_the_feed_api_refuses_a_new_host_without_the_token(api: Api, admin: User, feed: Feed) -> None:
    client = api(admin)
    response = client.patch(
        f"/api/v1/feeds/{feed.pk}/", {"index_url": "https://collector.evil.example/simple/"}, format="json"
    )
    assert response.status_code == 400 and "Enter the token again" in response.json()["token"][0]
    assert Feed.objects.get(pk=feed.pk).index_url == "https://pypi.acme.example/simple/"
    response = client.patch(
        f"/api/v1/feeds/{feed.pk}/",
        {"index_url": "https://mirror.acme.example/simple/", "token": "feed-token-origin-2"},
        format="json",
    )
    assert response.status_code == 200
    moved = Feed.objects.get(pk=feed.pk)
    assert moved.index_url == "https://mirror.acme.example/simple/"
    assert moved.current_token.reveal() == "feed-token-origin-2"  # type: ignore[union-attr]


def test_a_feed_path_change_on_the_same_host_needs_no_token(admin: User, feed: Feed) -> None:
    feed_services.feed_update(actor=admin, feed=feed, index_url="https://pypi.acme.example/team/simple/")
    assert Feed.objects.get(pk=feed.pk).index_url == "https://pypi.acme.example/team/simple/"


def test_a_target_refuses_a_new_origin_without_the_credential(admin: User, target: Target) -> None:
    with pytest.raises(ValidationError) as caught:
        target_services.target_update(actor=admin, target=target, url="https://ghe.evil.example/api/v3")
    assert "Enter the credential again" in str(caught.value)
    assert Target.objects.get(pk=target.pk).url == "https://api.github.com"


def test_a_target_moves_when_the_credential_is_entered_again(admin: User, target: Target) -> None:
    target_services.target_update(
        actor=admin, target=target, url="https://ghe.acme.example/api/v3", token="ghp-new-credential"
    )
    moved = Target.objects.get(pk=target.pk)
    assert moved.url == "https://ghe.acme.example/api/v3" and moved.reveal_credential() == "ghp-new-credential"


def test_the_target_api_answers_400_naming_the_credential_field(api: Api, admin: User, target: Target) -> None:
    response = api(admin).patch(f"/api/v1/targets/{target.pk}/", {"url": "https://other.example"}, format="json")
    assert response.status_code == 400 and "token" in response.json()


# --- secrets stay out of reports and logs ---------------------------------------------------------------------


def test_usernames_and_query_strings_in_urls_are_redacted() -> None:
    text = "pip said: https://robot:tok@host.example/simple/?sig=abc123&x=1 and https://robot@host.example/simple/"
    assert (
        redact(text) == "pip said: https://***@host.example/simple/?sig=***&x=*** and https://***@host.example/simple/"
    )


def test_every_log_handler_redacts_including_djangos_own() -> None:
    names = ["", "django", "django.server", "django.request", "celery", "feeds", "targets"]
    handlers = {h for name in names for h in logging.getLogger(name).handlers}
    assert handlers, "no handler configured"
    for handler in handlers:
        if type(handler).__module__.startswith("_pytest"):  # pytest's own capture handlers
            continue
        assert any(isinstance(f, RedactingFilter) for f in handler.filters), handler
    mail = [h for h in logging.getLogger("django").handlers if type(h).__name__ == "AdminEmailHandler"]
    server = logging.getLogger("django.server").handlers
    assert mail and server


def test_a_handler_a_library_adds_later_gets_the_filter_too() -> None:
    from core.redaction import install_redaction

    logger = logging.getLogger("some.library")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        assert install_redaction() >= 1
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    finally:
        logger.removeHandler(handler)


def test_a_post_of_any_view_is_hidden_from_error_reports(client: Any, admin: User, feed: Feed) -> None:
    captured: dict[str, Any] = {}

    from django.core.signals import got_request_exception

    def remember(sender: Any, request: Any, **kwargs: Any) -> None:
        captured["request"] = request

    got_request_exception.connect(remember)
    try:
        from core import middleware

        request = RequestFactory().post("/feeds/1/token/", {"token": "posted-secret-77", "name": "x"})
        middleware.SensitivePostParametersMiddleware(lambda r: captured.setdefault("request", r))(request)
    finally:
        got_request_exception.disconnect(remember)
    cleaned = SafeExceptionReporterFilter().get_post_parameters(captured["request"])
    assert "posted-secret-77" not in str(cleaned) and cleaned["token"] == "********************"


def test_a_get_is_not_marked(client: Any) -> None:
    from core import middleware

    seen: dict[str, Any] = {}
    request = RequestFactory().get("/feeds/")
    middleware.SensitivePostParametersMiddleware(lambda r: seen.setdefault("r", r))(request)
    assert not hasattr(seen["r"], "sensitive_post_parameters")
