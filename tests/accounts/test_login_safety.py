"""Brute force, sessions and the admin site: a username is locked out from one address after repeated failures
(not from another, and not for ever), once in the audit history; idle sessions end; one's sessions can be seen and
ended; a password change ends the others; passwords are at least 12 characters; /admin/ is for superusers only."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.test import Client, override_settings

from accounts.middleware import LAST_ACTIVITY
from accounts.models import UserSession
from audit.models import AuditEvent
from tests.conftest import PASSWORD
from tests.support.mfa import verify_session


def _try(client: Client, username: str, password: str, ip: str = "203.0.113.5") -> Any:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_failures_lock_the_username_out_from_that_address_only(db: None, viewer: User) -> None:
    client = Client()
    for _ in range(2):
        assert _try(client, viewer.username, "wrong-password-000").status_code == 200
    assert _try(client, viewer.username, "wrong-password-000").status_code == 429  # the third locks it
    locked = _try(client, viewer.username, PASSWORD)  # even the right password, from there
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    for _ in range(3):
        assert _try(client, viewer.username, "wrong-password-000").status_code == 429
    assert AuditEvent.objects.filter(action="login_locked_out").count() == 1, "one event per lockout"
    # The same user from another address still gets in: an attacker cannot lock the admin out.
    elsewhere = _try(Client(), viewer.username, PASSWORD, ip="198.51.100.9")
    assert elsewhere.status_code == 302


@override_settings(AXES_FAILURE_LIMIT=2, AXES_COOLOFF_TIME=timedelta(seconds=1))
def test_a_lockout_ends_after_the_cool_off(db: None, viewer: User) -> None:
    client = Client()
    for _ in range(2):
        _try(client, viewer.username, "wrong-password-000")
    assert _try(client, viewer.username, PASSWORD).status_code == 429
    time.sleep(1.2)
    assert _try(client, viewer.username, PASSWORD).status_code == 302


@override_settings(AXES_FAILURE_LIMIT=2)
def test_the_admin_site_login_is_locked_out_too(db: None) -> None:
    User.objects.create_superuser("root", password="root-password-123")
    client = Client()
    for _ in range(2):
        client.post("/admin/login/", {"username": "root", "password": "nope-nope-nope"}, REMOTE_ADDR="203.0.113.7")
    blocked = client.post(
        "/admin/login/", {"username": "root", "password": "root-password-123"}, REMOTE_ADDR="203.0.113.7"
    )
    assert blocked.status_code == 429


def test_an_idle_session_ends_and_background_polls_do_not_keep_it_alive(db: None, viewer: User, settings: Any) -> None:
    settings.SESSION_IDLE_MINUTES = 1
    client = Client()
    client.post("/login/", {"username": viewer.username, "password": PASSWORD})
    assert client.get("/feeds/").status_code == 200
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 50
    session.save()
    client.get("/feeds/", HTTP_HX_REQUEST="true")  # a poll: not activity
    assert time.time() - client.session[LAST_ACTIVITY] >= 49
    session = client.session
    session[LAST_ACTIVITY] = time.time() - 61
    session.save()
    ended = client.get("/feeds/")
    assert ended.status_code == 302 and ended["Location"].startswith("/login/")
    assert client.get("/feeds/")["Location"].startswith("/login/")
    assert not UserSession.objects.filter(user=viewer).exists()


def test_users_see_their_sessions_and_end_one(db: None, viewer: User) -> None:
    laptop, phone = Client(), Client()
    laptop.post("/login/", {"username": viewer.username, "password": PASSWORD}, HTTP_USER_AGENT="Laptop/1.0")
    phone.post("/login/", {"username": viewer.username, "password": PASSWORD}, HTTP_USER_AGENT="Phone/2.0")
    page = laptop.get("/account/").content.decode()
    assert "Laptop/1.0" in page and "Phone/2.0" in page and "this session" in page
    other = UserSession.objects.get(user=viewer, user_agent="Phone/2.0")
    assert laptop.post(f"/account/sessions/{other.pk}/end/").status_code == 302
    assert phone.get("/feeds/")["Location"].startswith("/login/")
    assert laptop.get("/feeds/").status_code == 200


def test_nobody_ends_another_users_session(db: None, viewer: User, operator: User) -> None:
    theirs = Client()
    theirs.post("/login/", {"username": operator.username, "password": PASSWORD})
    mine = Client()
    mine.post("/login/", {"username": viewer.username, "password": PASSWORD})
    session = UserSession.objects.get(user=operator)
    assert mine.post(f"/account/sessions/{session.pk}/end/").status_code == 404
    assert theirs.get("/feeds/").status_code == 200


def test_a_password_change_ends_the_other_sessions_and_needs_12_characters(db: None, viewer: User) -> None:
    here, there = Client(), Client()
    here.post("/login/", {"username": viewer.username, "password": PASSWORD})
    there.post("/login/", {"username": viewer.username, "password": PASSWORD})
    short = here.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "Sh0rt-pass", "new_password2": "Sh0rt-pass"},
    )
    assert short.status_code == 200 and "at least 12 characters" in short.content.decode()
    new = "a much longer passphrase 42"
    done = here.post("/account/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert here.get("/feeds/").status_code == 200
    assert there.get("/feeds/")["Location"].startswith("/login/")
    event = AuditEvent.objects.get(action="password.change")
    assert event.detail["sessions_ended"] == 1 and new not in str(event.detail)


def test_the_admin_site_is_for_superusers_only(db: None, admin: User, login: Any) -> None:
    assert login(admin).get("/admin/").status_code == 302  # an admin role is not a superuser
    root = User.objects.create_superuser("root", password="root-password-123")
    client = Client()
    client.force_login(root)
    verify_session(client, root)
    assert client.get("/admin/").status_code == 200


@override_settings(AXES_FAILURE_LIMIT=2)
def test_tries_during_a_lockout_do_not_flood_the_audit_history(db: None, viewer: User) -> None:
    client = Client()
    for _ in range(10):
        _try(client, viewer.username, "wrong-password-000")
    # The first failure is recorded; the one that locks out is the lockout event; the eight after it, nothing.
    assert AuditEvent.objects.filter(action="login_failed").count() == 1
    assert AuditEvent.objects.filter(action="login_locked_out").count() == 1
