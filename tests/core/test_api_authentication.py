"""API authentication: Bearer tokens; no token or a bad one is 401 (never 500), a wrong role is 403."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import ApiToken

Api = Callable[[User], APIClient]


def test_no_token_is_401_with_a_bearer_challenge(db: None) -> None:
    response = APIClient().get("/api/v1/feeds/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Bearer fk_not-a-real-token", "Bearer", "Bearer two parts", "Basic dXNlcjpwYXNz", " ", "Bearer \u00e9\u00e9"],
)
def test_a_bad_or_malformed_token_is_401_never_500(db: None, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/feeds/").status_code == 401


def test_a_revoked_token_is_401(api: Api, viewer: User) -> None:
    client = api(viewer)
    ApiToken.objects.update(revoked_at=timezone.now())
    assert client.get("/api/v1/feeds/").status_code == 401


def test_the_token_of_an_inactive_user_is_401(api: Api, viewer: User) -> None:
    client = api(viewer)
    User.objects.filter(pk=viewer.pk).update(is_active=False)
    assert client.get("/api/v1/feeds/").status_code == 401


def test_a_good_token_acts_as_its_user_and_records_its_use(api: Api, viewer: User) -> None:
    assert api(viewer).get("/api/v1/feeds/").status_code == 200
    assert ApiToken.objects.get(user=viewer).last_used_at is not None


@pytest.mark.parametrize(("role", "status"), [("outsider", 403), ("viewer", 200), ("operator", 200), ("admin", 200)])
def test_reading_needs_the_viewer_role(request: pytest.FixtureRequest, api: Api, role: str, status: int) -> None:
    client = api(request.getfixturevalue(role))
    for url in ("/api/v1/feeds/", "/api/v1/audit/", "/api/v1/feed-checks/"):
        assert client.get(url).status_code == status


def test_a_logged_in_browser_session_may_read_the_api(login: Callable[[User], object], viewer: User) -> None:
    assert login(viewer).get("/api/v1/feeds/").status_code == 200  # type: ignore[attr-defined]
