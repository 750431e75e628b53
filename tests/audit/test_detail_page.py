"""One event's page: a readable before/after, human values, times with their zone, a link to the object; every
feed, target, delivery and rotation page links to its own history."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

from audit.services import audit_record

Login = Callable[[User], Client]


def test_it_shows_the_change_as_before_and_after_with_human_values(login: Login, viewer: User) -> None:
    event = audit_record(
        actor="cli",
        action="feed.update",
        object_type="feed",
        object_id=7,
        object_repr="pypi-internal",
        detail={
            "changed": {"name": ["old-name", "new-name"], "token": "changed"},
            "remote_ts": None,
            "failing": [],
            "clusters": ["c1", "c2"],
            "wired": True,
            "at": "2026-01-02T03:04:05+00:00",
        },
    )
    response = login(viewer).get(f"/audit/{event.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<td>Name</td><td>old-name</td><td>new-name</td>" in body
    assert "<td>Token</td><td>(not recorded)</td><td>changed</td>" in body
    assert '<th scope="row">Remote ts</th><td>—</td>' in body and '<th scope="row">Failing</td>' not in body
    assert "<td>none</td>" in body and "c1, c2" in body and "<td>yes</td>" in body
    assert "2026-01-02 03:04:05 UTC" in body
    assert "None" not in body and "[]" not in body
    assert 'href="/feeds/7/"' in body and "?object_type=feed&amp;object_id=7" in body


def test_the_list_shows_times_with_their_zone_and_objects_as_links(login: Login, viewer: User) -> None:
    event = audit_record(actor="cli", action="target.check", object_type="target", object_id=3, outcome="warning")
    body = login(viewer).get("/audit/?object_type=target").content.decode()
    assert f'href="/audit/{event.pk}/"' in body and " UTC</a>" in body
    assert 'href="/targets/3/"' in body and "badge-warning" in body


def test_an_unknown_event_is_a_404_and_an_outsider_is_refused(login: Login, viewer: User, outsider: User) -> None:
    assert login(viewer).get("/audit/999999/").status_code == 404
    event = audit_record(actor="cli", action="a")
    assert login(outsider).get(f"/audit/{event.pk}/").status_code == 403


def test_the_object_type_filter_offers_the_types_that_exist(login: Login, viewer: User) -> None:
    audit_record(actor="cli", action="a", object_type="spaceship")
    body = login(viewer).get("/audit/").content.decode()
    assert '<option value="spaceship"' in body and '<option value="rotation"' in body
    assert login(viewer).get("/audit/?object_type=spaceship").status_code == 200
    assert login(viewer).get("/audit/?object_type=submarine").status_code == 400
