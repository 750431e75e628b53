"""The browsable API documentation: Swagger UI served from the pinned sidecar package, behind the login, with
nothing loaded from another host (the page works under the 'self'-only Content-Security-Policy)."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client

Login = Callable[[User], Client]


def test_it_needs_login(client: Client, db: None) -> None:
    response = client.get("/docs/api/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_user_without_a_role_is_refused(login: Login, outsider: User) -> None:
    assert login(outsider).get("/docs/api/").status_code == 403


def test_it_serves_swagger_ui_from_this_host_only(login: Login, viewer: User) -> None:
    client = login(viewer)
    response = client.get("/docs/api/")
    body = response.content.decode()
    assert response.status_code == 200 and 'id="swagger-ui"' in body
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in body
    assert not re.search(r"(src|href)=\"(https?:)?//", body), "nothing from another host"
    assert "<style" not in body and "<script>" not in body, "no inline code: the CSP allows 'self' only"
    script = client.get("/docs/api/?script")
    assert script.status_code == 200 and "/api/v1/schema/" in script.content.decode()
    assert "'unsafe-inline'" not in response.get("Content-Security-Policy", "")


def test_the_schema_it_reads_answers_a_logged_in_user(login: Login, viewer: User) -> None:
    response = login(viewer).get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200 and b"/api/v1/feed-checks/" in response.content
