"""The overview page: needs login and a role; lists tokens that need attention and recent activity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from feeds import services

Login = Callable[[User], Client]


def test_it_needs_login(client: Client, db: None) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/"


def test_an_outsider_gets_403(login: Login, outsider: User) -> None:
    assert login(outsider).get("/").status_code == 403


def test_it_lists_expiring_tokens_and_recent_activity(login: Login, admin: User, viewer: User) -> None:
    services.feed_create(
        actor=admin,
        name="soon",
        kind="generic",
        index_url="https://soon.example/simple/",
        token="expiring-token-1",
        token_expires_at=timezone.now() + timedelta(days=3),
    )
    services.feed_create(
        actor=admin, name="later", kind="generic", index_url="https://later.example/simple/", token="t-22222"
    )
    response = login(viewer).get("/")
    attention = [item.label for item in response.context["attention"].items]
    body = response.content.decode()
    assert response.status_code == 200 and attention == ["soon"]
    assert "feed.create" in body and "expiring-token-1" not in body
    assert "Rotate now" not in body, "a viewer is not offered admin actions"
    assert "Rotate now" in login(admin).get("/").content.decode()


def test_feed_tokens_and_target_credentials_are_listed_by_soonest_expiry(login: Login, admin: User) -> None:
    from core import crypto
    from targets.models import Target

    now = timezone.now()
    services.feed_create(
        actor=admin,
        name="feed-in-20-days",
        kind="generic",
        index_url="https://a.example/simple/",
        token="token-aaaaaa",
        token_expires_at=now + timedelta(days=20),
    )
    services.feed_create(
        actor=admin, name="feed-never", kind="generic", index_url="https://b.example/simple/", token="token-bbbbbb"
    )
    for name, days in (("target-in-5-days", 5), ("target-expired", -1)):
        Target.objects.create(
            name=name,
            kind="valohai",
            url="https://app.valohai.com",
            auth_type="token",
            credential=crypto.encrypt("secret-" + name),
            credential_fingerprint=crypto.fingerprint("secret-" + name),
            credential_expires_at=now + timedelta(days=days),
        )
    response = login(admin).get("/")
    order = [row.obj.name for row in response.context["expiry"]]
    assert order == ["target-expired", "target-in-5-days", "feed-in-20-days", "feed-never"]
    assert [row.status for row in response.context["expiry"]] == ["expired", "expiring", "expiring", "unknown"]
    body = response.content.decode()
    assert "target credential" in body and "need attention" in body
    assert len(response.context["attention"].items) == 3
    assert "secret-target" not in body


def test_the_login_page_is_anonymous(client: Client, db: None) -> None:
    assert client.get("/login/").status_code == 200
