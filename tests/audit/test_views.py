"""The audit history page."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from audit.services import audit_record

Login = Callable[[User], Client]


def test_it_needs_login(client: Client, db: None) -> None:
    response = client.get("/audit/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_outsider_gets_403(login: Login, outsider: User) -> None:
    assert login(outsider).get("/audit/").status_code == 403


def test_a_viewer_sees_events_and_filters_them(login: Login, viewer: User, admin: User) -> None:
    audit_record(actor=admin, action="feed.create", object_type="feed", object_id=1, object_repr="first-feed")
    audit_record(actor=admin, action="feed.delete", object_type="feed", object_id=2, object_repr="second-feed")
    client = login(viewer)
    body = client.get("/audit/").content.decode()
    assert "first-feed" in body and "second-feed" in body
    filtered = client.get("/audit/?action=feed.delete").content.decode()
    assert "second-feed" in filtered and "first-feed" not in filtered


def test_a_bad_time_filter_is_a_400_with_a_message_not_a_500(login: Login, viewer: User) -> None:
    response = login(viewer).get("/audit/?since=2024-13-45")
    assert response.status_code == 400
    assert "Not an ISO 8601 date-time" in response.content.decode()


def test_it_pages_through_long_histories_with_cursors(login: Login, viewer: User) -> None:
    for i in range(51):
        audit_record(actor="cli", action="bulk", object_type="feed", object_id=i + 1)
    client = login(viewer)
    response = client.get("/audit/?action=bulk")
    body = response.content.decode()
    assert "51 events" in body and "Older →" in body and "← Newer" not in body
    cursor = re.search(r'action=bulk&amp;cursor=([\w-]+)">Older', body)
    assert cursor is not None
    older = client.get(f"/audit/?action=bulk&cursor={cursor.group(1)}").content.decode()
    assert "#1<" in older and "#51<" not in older and "← Newer" in older
