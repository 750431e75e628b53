"""Feed fixtures: a saved feed, and a fake index behind the HTTP seam so checks need no network."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from django.contrib.auth.models import User

from core import http
from feeds import services
from feeds.models import Feed

FEED_TOKEN = "feed-token-9f3c2a71"


@pytest.fixture
def feed(admin: User) -> Feed:
    return services.feed_create(
        actor=admin,
        name="acme-private",
        kind="generic",
        index_url="https://pypi.acme.example/simple/",
        username="ci",
        token=FEED_TOKEN,
    )


@pytest.fixture
def fake_index(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[httpx.Request], httpx.Response]], None]:
    """Route the HTTP seam to a handler; by default every index answers 200 with HTML."""

    def install(handler: Callable[[httpx.Request], httpx.Response]) -> None:
        client = httpx.Client(transport=httpx.MockTransport(handler))
        monkeypatch.setattr(http, "client", lambda: client)

    install(lambda request: httpx.Response(200, html="<html><body></body></html>"))
    return install
