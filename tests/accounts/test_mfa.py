"""The second factor: admins must set up an authenticator before anything else, then enter a code in each new
password session; recovery codes work once; wrong codes are throttled; the API refuses an unverified session;
bearer tokens are not asked; and nothing secret is recorded."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import RecoveryCode, RecoveryCodes
from audit.models import AuditEvent
from tests.conftest import PASSWORD
from tests.support.mfa import code_of, give_authenticator


def _password_login(user: Any) -> Client:
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_an_admin_without_an_authenticator_must_set_one_up_before_any_page(db: None, admin: Any) -> None:
    client = _password_login(admin)
    for path in ("/", "/feeds/", "/targets/", "/account/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/account/2fa/setup/"), path
    api = client.get("/api/v1/feeds/")
    assert api.status_code == 403 and "second factor" in api.json()["detail"]


def test_setting_up_the_authenticator_shows_recovery_codes_once_and_opens_the_dashboard(db: None, admin: Any) -> None:
    client = _password_login(admin)
    page = client.get("/account/2fa/setup/?next=/feeds/")
    body = page.content.decode()
    assert page.status_code == 200 and "<svg" in body and 'data-testid="totp-secret"' in body
    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    wrong = client.post("/account/2fa/setup/", {"code": "000000", "next": "/feeds/"})
    assert wrong.status_code == 400 and "not the one the authenticator shows" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # a wrong code makes the next try wait (django-otp's throttling)
    done = client.post("/account/2fa/setup/", {"code": code_of(device), "next": "/feeds/"})
    assert done.status_code == 302 and done["Location"].startswith("/account/2fa/codes/")
    codes_page = client.get(done["Location"]).content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>", codes_page)
    stored = set(RecoveryCode.objects.filter(device__user=admin).values_list("digest", flat=True))
    assert len(codes) == 10 and {RecoveryCodes.digest(c) for c in codes} == stored
    assert not any(code in client.get("/account/2fa/codes/").content.decode() for code in codes), "shown once"
    assert client.get("/feeds/").status_code == 200
    assert AuditEvent.objects.filter(action="mfa.enabled", actor=admin).exists()


def test_a_new_session_asks_for_a_code_and_a_wrong_one_is_refused(db: None, admin: Any) -> None:
    device = give_authenticator(admin)
    client = _password_login(admin)
    assert client.get("/targets/")["Location"] == "/account/2fa/verify/?next=%2Ftargets%2F"
    refused = client.post("/account/2fa/verify/", {"code": "123456", "next": "/targets/"})
    assert refused.status_code == 400 and "not accepted" in refused.content.decode()
    assert client.get("/targets/").status_code == 302
    # django-otp throttles the device after a failure: the right code right away is refused too.
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    device.throttle_reset()
    accepted = client.post("/account/2fa/verify/", {"code": code_of(device), "next": "/targets/"})
    assert accepted.status_code == 302 and accepted["Location"] == "/targets/"
    assert client.get("/targets/").status_code == 200
    actions = list(AuditEvent.objects.filter(actor=admin).values_list("action", flat=True))
    assert "mfa.failed" in actions and "mfa.verified" in actions


def test_a_recovery_code_works_once(db: None, admin: Any) -> None:
    give_authenticator(admin)
    from accounts.mfa import recovery_codes_renew

    code = recovery_codes_renew(user=admin)[0]
    first = _password_login(admin)
    assert first.post("/account/2fa/verify/", {"code": code, "next": "/"}).status_code == 302
    second = _password_login(admin)
    assert second.post("/account/2fa/verify/", {"code": code, "next": "/"}).status_code == 400


def test_a_viewer_needs_no_second_factor_but_may_add_one(db: None, viewer: Any) -> None:
    client = _password_login(viewer)
    assert client.get("/feeds/").status_code == 200
    assert client.get("/account/2fa/setup/").status_code == 200


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x"])
def test_the_verify_page_never_redirects_off_site(db: None, admin: Any, next_url: str) -> None:
    device = give_authenticator(admin)
    client = _password_login(admin)
    response = client.post("/account/2fa/verify/", {"code": code_of(device), "next": next_url})
    assert response.status_code == 302 and response["Location"] == "/"


def test_bearer_tokens_are_not_asked_for_a_code(db: None, admin: Any, api: Any) -> None:
    give_authenticator(admin)
    assert api(admin).get("/api/v1/feeds/").status_code == 200


def test_no_code_or_key_is_recorded(db: None, admin: Any) -> None:
    client = _password_login(admin)
    client.get("/account/2fa/setup/")
    device = TOTPDevice.objects.get(user=admin)
    code = code_of(device)
    client.post("/account/2fa/setup/", {"code": code})
    recorded = " ".join(str(v) for v in AuditEvent.objects.values_list("detail", "object_repr"))
    assert code not in recorded and device.key not in recorded


def test_an_htmx_request_of_an_unverified_session_is_told_to_redirect(db: None, admin: Any) -> None:
    give_authenticator(admin)
    client = _password_login(admin)
    response = client.get("/targets/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"].startswith("/account/2fa/verify/")
