"""Logins and failed logins are audited; the password never is."""

from __future__ import annotations

import json

from django.contrib.auth.models import User
from django.forms.models import model_to_dict
from django.test import Client

from audit.models import AuditEvent
from tests.conftest import PASSWORD


def all_events_text() -> str:
    return json.dumps([model_to_dict(e) for e in AuditEvent.objects.all()], default=str)


def test_a_login_is_recorded(client: Client, viewer: User) -> None:
    response = client.post("/login/", {"username": viewer.username, "password": PASSWORD})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="login")
    assert (event.actor, event.object_type, event.object_id, event.outcome) == (
        viewer,
        "user",
        str(viewer.pk),
        "success",
    )
    assert event.detail == {"ip": "127.0.0.1"}
    assert PASSWORD not in all_events_text()


def test_a_failed_login_is_recorded_without_the_password(client: Client, viewer: User) -> None:
    response = client.post("/login/", {"username": viewer.username, "password": "wrong-password-5150"})
    assert response.status_code == 200 and "didn't match" in response.content.decode()
    event = AuditEvent.objects.get(action="login_failed")
    assert (event.actor, event.actor_name, event.object_repr, event.outcome) == (
        None,
        viewer.username,
        viewer.username,
        "failure",
    )
    assert "wrong-password-5150" not in all_events_text()
    assert "wrong-password-5150" not in response.content.decode()


def test_a_failed_login_for_an_unknown_user_is_recorded(client: Client, db: None) -> None:
    client.post("/login/", {"username": "mallory", "password": "guess-123456"})
    event = AuditEvent.objects.get(action="login_failed")
    assert event.actor_name == "mallory" and "guess-123456" not in all_events_text()
