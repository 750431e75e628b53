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
    attention = [f.name for f in response.context["attention"]]
    body = response.content.decode()
    assert response.status_code == 200 and attention == ["soon"]
    assert "feed.create" in body and "expiring-token-1" not in body
    assert "Replace token" not in body, "a viewer is not offered admin actions"


def test_the_login_page_is_anonymous(client: Client, db: None) -> None:
    assert client.get("/login/").status_code == 200
