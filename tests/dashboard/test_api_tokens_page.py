"""The API tokens page: a user issues (shown once) and revokes their own tokens."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.models import ApiToken

Login = Callable[[User], Client]


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def issue(client: Client, name: str = "laptop") -> str:
    posted = client.post(reverse("api-tokens"), {"name": name})
    assert posted.status_code == 302 and posted["Location"] == reverse("api-tokens")
    assert "new-token" not in posted.content.decode()
    response = client.get(reverse("api-tokens"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    match = re.search(r'data-testid="new-token">([^<]+)<', response.content.decode())
    assert match
    return match.group(1)


def test_it_needs_login(client: Client, db: None) -> None:
    response = client.get(reverse("api-tokens"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_new_token_is_shown_once_and_works(login: Login, viewer: User) -> None:
    client = login(viewer)
    raw = issue(client)
    assert bearer(raw).get("/api/v1/feeds/").status_code == 200
    later = client.get(reverse("api-tokens")).content.decode()
    assert raw not in later and "laptop" in later and raw[:8] in later
    assert raw not in str(list(AuditEvent.objects.values()))


def test_a_token_needs_a_name(login: Login, viewer: User) -> None:
    response = login(viewer).post(reverse("api-tokens"), {"name": "  "})
    assert response.status_code == 400 and "Give the token a name" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_revoked_token_no_longer_works(login: Login, viewer: User) -> None:
    client = login(viewer)
    raw = issue(client)
    token = ApiToken.objects.get(user=viewer)
    response = client.post(reverse("api-token-revoke", args=[token.pk]))
    assert response.status_code == 302
    assert bearer(raw).get("/api/v1/feeds/").status_code == 401
    assert "revoked" in client.get(reverse("api-tokens")).content.decode()
    assert AuditEvent.objects.filter(action="api_token.revoke", object_id=str(token.pk)).exists()


def test_a_user_cannot_see_or_revoke_someone_elses_token(login: Login, viewer: User, admin: User) -> None:
    raw = issue(login(admin), name="admin-only")
    token = ApiToken.objects.get(user=admin)
    client = login(viewer)
    assert "admin-only" not in client.get(reverse("api-tokens")).content.decode()
    assert client.post(reverse("api-token-revoke", args=[token.pk])).status_code == 404
    assert bearer(raw).get("/api/v1/feeds/").status_code == 200


def test_a_user_without_a_role_cannot_issue_api_tokens(outsider, login) -> None:  # type: ignore[no-untyped-def]
    from core.models import ApiToken

    client = login(outsider)
    assert client.get("/account/tokens/").status_code == 403
    assert client.post("/account/tokens/", {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_a_new_token_expires_after_the_chosen_days_and_then_gets_401(login: Login, viewer: User) -> None:
    from datetime import timedelta

    from django.utils import timezone

    client = login(viewer)
    response = client.post(reverse("api-tokens"), {"name": "short", "expires_in_days": "7"}, follow=True)
    raw = re.search(r'data-testid="new-token">([^<]+)<', response.content.decode()).group(1)  # type: ignore[union-attr]
    token = ApiToken.objects.get(user=viewer)
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)  # type: ignore[operator]
    assert bearer(raw).get("/api/v1/feeds/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = bearer(raw).get("/api/v1/feeds/")
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    assert "expired" in client.get(reverse("api-tokens")).content.decode()


def test_a_lifetime_beyond_the_maximum_is_refused_with_a_clear_error(login: Login, viewer: User) -> None:
    response = login(viewer).post(reverse("api-tokens"), {"name": "forever", "expires_in_days": "100000"})
    assert response.status_code == 400 and "Enter a number of days from 1 to 365" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_read_only_token_of_an_admin_reads_but_cannot_change_anything(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("api-tokens"), {"name": "ro", "scope": "read"}, follow=True)
    raw = re.search(r'data-testid="new-token">([^<]+)<', response.content.decode()).group(1)  # type: ignore[union-attr]
    client = bearer(raw)
    assert client.get("/api/v1/feeds/").status_code == 200
    answer = client.post("/api/v1/feeds/", {"name": "x"}, format="json")
    assert answer.status_code == 403 and "read-only" in answer.json()["detail"]


def test_an_admin_sees_and_revokes_other_users_tokens(login: Login, viewer: User, admin: User) -> None:
    raw = issue(login(viewer), name="vera-laptop")
    token = ApiToken.objects.get(user=viewer)
    client = login(admin)
    page = client.get(reverse("api-tokens")).content.decode()
    assert "vera-laptop" in page and "vera-viewer" in page and raw not in page
    assert client.post(reverse("api-token-revoke", args=[token.pk])).status_code == 302
    assert bearer(raw).get("/api/v1/feeds/").status_code == 401
    event = AuditEvent.objects.filter(action="api_token.revoke", object_id=str(token.pk)).get()
    assert event.actor == admin and event.detail["user"] == "vera-viewer"


def test_changing_the_password_revokes_every_token_of_the_user(login: Login, viewer: User) -> None:
    raw = issue(login(viewer))
    viewer.set_password("another long passphrase 42")
    viewer.save()
    assert bearer(raw).get("/api/v1/feeds/").status_code == 401
    assert ApiToken.objects.get(user=viewer).revoked_at is not None
    assert AuditEvent.objects.filter(action="api_token.revoke", detail__reason="password changed").exists()


def test_deactivating_the_user_revokes_every_token_of_the_user(login: Login, viewer: User) -> None:
    issue(login(viewer))
    viewer.is_active = False
    viewer.save()
    assert ApiToken.objects.get(user=viewer).revoked_at is not None


def test_saving_a_user_without_a_credential_change_keeps_the_tokens(login: Login, viewer: User) -> None:
    raw = issue(login(viewer))
    viewer.first_name = "Vera"
    viewer.save()
    assert bearer(raw).get("/api/v1/feeds/").status_code == 200


def test_issuing_redirects_so_a_reload_neither_reposts_nor_shows_the_token_again(login: Login, viewer: User) -> None:
    client = login(viewer)
    raw = issue(client)
    again = client.get(reverse("api-tokens")).content.decode()
    assert raw not in again and ApiToken.objects.filter(user=viewer).count() == 1
    assert raw not in str(dict(client.session)), "the session keeps the token encrypted until it is shown"


def test_the_new_token_has_a_copy_button(login: Login, viewer: User) -> None:
    client = login(viewer)
    client.post(reverse("api-tokens"), {"name": "ci"})
    body = client.get(reverse("api-tokens")).content.decode()
    assert 'data-copy="#new-token"' in body and 'id="new-token"' in body
