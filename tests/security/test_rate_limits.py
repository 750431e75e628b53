"""Rate limits: per API token on every request, per user on checks, pushes, scans and rotations (API and pages
together); over the limit the answer is 429 with Retry-After, and the schema documents it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from core.models import ApiToken
from feeds import services as feed_services
from feeds.models import Feed


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def bearer(user: User) -> APIClient:
    _, raw = ApiToken.issue(user=user, name="limits")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def feed(admin: User) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name="acme-private",
        kind="generic",
        index_url="https://pypi.acme.example/simple/",
        username="ci",
        token="feed-token-limits",
    )


def test_a_token_over_its_rate_gets_429_with_retry_after_and_another_token_is_unaffected(
    settings: Any, viewer: User
) -> None:
    settings.API_RATE_LIMIT = "3/minute"
    first, second = bearer(viewer), bearer(viewer)
    assert [first.get("/api/v1/feeds/").status_code for _ in range(3)] == [200, 200, 200]
    limited = first.get("/api/v1/feeds/")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "throttled" in limited.json()["detail"].lower()
    assert second.get("/api/v1/feeds/").status_code == 200


def test_an_empty_rate_turns_the_limit_off(settings: Any, viewer: User) -> None:
    settings.API_RATE_LIMIT = ""
    client = bearer(viewer)
    assert {client.get("/api/v1/feeds/").status_code for _ in range(20)} == {200}


def test_expensive_actions_are_limited_per_user_across_the_api_and_the_pages(
    settings: Any, operator: User, feed: Feed, login: Callable[[User], Client]
) -> None:
    settings.EXPENSIVE_RATE_LIMIT = "2/minute"
    api = bearer(operator)
    assert api.post(f"/api/v1/feeds/{feed.pk}/check/").status_code == 202
    page = login(operator)
    assert page.post(f"/feeds/{feed.pk}/check/").status_code in (200, 302)
    limited = api.post(f"/api/v1/feeds/{feed.pk}/check/")
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    on_page = page.post(f"/feeds/{feed.pk}/check/", HTTP_ACCEPT="text/html")
    assert on_page.status_code == 429 and int(on_page["Retry-After"]) >= 1
    assert "Too many checks" in on_page.content.decode()
    # Reading is not an expensive action.
    assert api.get(f"/api/v1/feeds/{feed.pk}/").status_code == 200


def test_every_api_operation_documents_429_with_retry_after(api: Callable[[User], APIClient], viewer: User) -> None:
    schema = api(viewer).get("/api/v1/schema/?format=json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                responses: dict[str, Any] = operation["responses"]
                assert {"400", "401", "403", "404", "429"} <= set(responses), f"{method} {path}"
                assert "Retry-After" in responses["429"]["headers"]


def test_production_counts_in_redis_when_redis_url_is_set() -> None:
    import subprocess
    import sys

    from tests.test_deploy import ROOT, production_env

    code = "import django, json; django.setup(); from django.conf import settings; print(json.dumps(settings.CACHES))"
    for redis_url, backend in (
        ("redis://redis:6379/0", "django.core.cache.backends.redis.RedisCache"),
        ("", "django.core.cache.backends.filebased.FileBasedCache"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=production_env(REDIS_URL=redis_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert backend in result.stdout
