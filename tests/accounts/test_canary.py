"""Canary for signing in: a password (right or wrong), a second-factor code and recovery codes appear in no page,
log line, audit event or database row — through logins, failed logins, a lockout, the second factor, the sessions
page and a password change."""

from __future__ import annotations

import logging
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from accounts.mfa import recovery_codes_renew
from tests.support.leaks import database_dump
from tests.support.mfa import code_of, give_authenticator


@override_settings(AXES_FAILURE_LIMIT=3)
def test_no_password_or_code_leaks_through_signing_in(db: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tag = uuid4().hex
    password, wrong, new = f"canary-pass-{tag}", f"canary-wrong-{tag}", f"canary-new-{tag}"
    user = User.objects.create_user("casey", password=password)
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get_or_create(name="admin")[0])
    device = give_authenticator(user)
    codes = recovery_codes_renew(user=user)
    pages: list[str] = []

    attacker = Client()
    for _ in range(4):  # fails, then locked out
        response = attacker.post("/login/", {"username": "casey", "password": wrong}, REMOTE_ADDR="203.0.113.66")
        pages.append(response.content.decode())
    client = Client()
    pages.append(client.post("/login/", {"username": "casey", "password": password}, follow=True).content.decode())
    code = code_of(device)
    pages.append(client.post("/account/2fa/verify/", {"code": "000000", "next": "/"}).content.decode())
    device.refresh_from_db()
    device.throttle_reset()
    pages.append(client.post("/account/2fa/verify/", {"code": code, "next": "/"}, follow=True).content.decode())
    pages.append(client.get("/account/").content.decode())
    changed = client.post(
        "/account/password/", {"old_password": password, "new_password1": new, "new_password2": new}, follow=True
    )
    pages.append(changed.content.decode())
    seen = "\n".join([*pages, caplog.text, database_dump()])
    for secret in (password, wrong, new, code, *codes):
        assert secret not in seen, secret[:12]
