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
    response = client.post(reverse("api-tokens"), {"name": name})
    assert response.status_code == 201
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
