"""`GET /api/v1/audit/`: read-only, newest first, paginated, filterable; bad filters are 400, never 500."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services import audit_record

Api = Callable[[User], APIClient]
FIELDS = {"id", "at", "actor", "action", "object_type", "object_id", "object_repr", "outcome", "detail", "hash"}


@pytest.fixture
def events(admin: User, operator: User) -> list[AuditEvent]:
    now = timezone.now()
    rows = [
        (4, admin, "feed.create", "feed", "1", "one"),
        (3, operator, "feed.check", "feed", "1", "one"),
        (2, admin, "feed.create", "feed", "2", "two"),
        (1, None, "api_token.issue", "api_token", "7", ""),
    ]
    return [
        AuditEvent.objects.create(
            at=now - timedelta(days=days),
            actor=actor,
            actor_name=actor.username if actor else "cli",
            action=action,
            object_type=object_type,
            object_id=object_id,
            object_repr=object_repr,
        )
        for days, actor, action, object_type, object_id, object_repr in rows
    ]


def ids(response: object) -> list[int]:
    """The ids listed, leaving out the user and role events that the cast of users brings."""
    return [e["id"] for e in response.json()["results"] if e["object_type"] != "user"]  # type: ignore[attr-defined]


def test_it_lists_events_newest_first_with_the_contract_fields(
    api: Api, viewer: User, events: list[AuditEvent]
) -> None:
    data = api(viewer).get("/api/v1/audit/?object_type=feed").json()
    assert set(data) == {"count", "next", "previous", "results"} and data["count"] == 3
    assert [e["id"] for e in data["results"]] == [e.pk for e in reversed(events[:3])]
    assert FIELDS <= set(data["results"][0])
    assert data["results"][-1]["actor"] == "alice-admin"
    assert data["results"][0]["at"].endswith(("Z", "+00:00"))
    assert api(viewer).get("/api/v1/audit/").json()["count"] == AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("action=feed.create", [2, 0]),
        ("actor=oscar-operator", [1]),
        ("object_type=api_token", [3]),
        ("object_type=feed&object_id=1", [1, 0]),
        ("action=feed.create&actor=alice-admin&object_id=2", [2]),
        ("action=nothing", []),
    ],
)
def test_it_filters(api: Api, viewer: User, events: list[AuditEvent], query: str, expected: list[int]) -> None:
    assert ids(api(viewer).get(f"/api/v1/audit/?{query}")) == [events[i].pk for i in expected]


def test_it_filters_by_time(api: Api, viewer: User, events: list[AuditEvent]) -> None:
    client = api(viewer)
    since = (timezone.now() - timedelta(days=2, hours=12)).isoformat()
    hour_ago = (timezone.now() - timedelta(hours=1)).isoformat()  # leaves out the events of the cast of users
    until = (timezone.now() - timedelta(days=1, hours=12)).isoformat()
    assert ids(client.get("/api/v1/audit/", {"since": since, "until": hour_ago})) == [events[3].pk, events[2].pk]
    assert ids(client.get("/api/v1/audit/", {"until": until})) == [events[2].pk, events[1].pk, events[0].pk]
    assert ids(client.get("/api/v1/audit/", {"since": since, "until": until})) == [events[2].pk]


@pytest.mark.parametrize("value", ["yesterday", "2024-13-45T00:00:00", "2024-02-30", "2024-01-01T25:00:00Z"])
@pytest.mark.parametrize("name", ["since", "until"])
def test_a_bad_time_filter_is_a_400_not_a_500(api: Api, viewer: User, db: None, name: str, value: str) -> None:
    response = api(viewer).get("/api/v1/audit/", {name: value})
    assert response.status_code == 400
    assert "ISO 8601" in response.json()[name][0]


def test_it_is_paginated_by_keyset_cursors_both_ways(api: Api, viewer: User, db: None) -> None:
    made = [audit_record(actor="cli", action="bulk", object_id=i).pk for i in range(55)]
    client = api(viewer)
    first = client.get("/api/v1/audit/?action=bulk").json()
    assert first["count"] == 55 and len(first["results"]) == 50 and first["previous"] is None
    assert "action=bulk" in first["next"] and "cursor=" in first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 5 and second["next"] is None
    assert [e["id"] for e in first["results"] + second["results"]] == made[::-1]
    back = client.get(second["previous"]).json()
    assert [e["id"] for e in back["results"]] == [e["id"] for e in first["results"]]
    assert back["previous"] is None


def test_a_garbled_cursor_is_a_400(api: Api, viewer: User, db: None) -> None:
    response = api(viewer).get("/api/v1/audit/", {"cursor": "not-a-cursor"})
    assert response.status_code == 400 and "cursor" in response.json()


@pytest.mark.parametrize(
    ("query", "name"),
    [("outcome=maybe", "outcome"), ("object_type=spaceship", "object_type"), ("q=ab", "q")],
)
def test_a_bad_filter_is_a_400_naming_it(api: Api, viewer: User, db: None, query: str, name: str) -> None:
    response = api(viewer).get(f"/api/v1/audit/?{query}")
    assert response.status_code == 400 and list(response.json()) == [name]


def test_it_filters_by_outcome_and_searches_text(api: Api, viewer: User, db: None) -> None:
    ok = audit_record(actor="cli", action="target.check", object_type="target", object_repr="Workspace Alpha")
    warned = audit_record(
        actor="cli", action="target.check", object_type="target", outcome="warning", detail={"note": "Quota_50%"}
    )
    client = api(viewer)
    assert ids(client.get("/api/v1/audit/?outcome=warning")) == [warned.pk]
    assert ids(client.get("/api/v1/audit/?q=workspace alp")) == [ok.pk]
    assert ids(client.get("/api/v1/audit/?q=quota_50%")) == [warned.pk]
    assert ids(client.get("/api/v1/audit/?q=quotaX50")) == []
    assert ids(client.get("/api/v1/audit/?q=target.check&outcome=success")) == [ok.pk]


def test_one_event_can_be_read(api: Api, viewer: User, events: list[AuditEvent]) -> None:
    data = api(viewer).get(f"/api/v1/audit/{events[0].pk}/").json()
    assert data["action"] == "feed.create" and data["object_repr"] == "one"


def test_it_is_read_only(api: Api, admin: User, events: list[AuditEvent]) -> None:
    client = api(admin)
    assert client.post("/api/v1/audit/", {"action": "x"}, format="json").status_code == 405
    assert client.delete(f"/api/v1/audit/{events[0].pk}/").status_code == 405
    assert client.patch(f"/api/v1/audit/{events[0].pk}/", {"action": "x"}, format="json").status_code == 405
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in events]).count() == 4


def test_it_needs_a_role_and_a_token(api: Api, outsider: User, events: list[AuditEvent]) -> None:
    assert APIClient().get("/api/v1/audit/").status_code == 401
    assert api(outsider).get("/api/v1/audit/").status_code == 403
