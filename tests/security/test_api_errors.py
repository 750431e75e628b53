"""API errors are JSON and documented, also where no view answers (a URL that matches no route)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient


def test_an_api_url_that_matches_no_route_answers_json_404(api: Callable[[User], APIClient], viewer: User) -> None:
    response = api(viewer).get("/api/v1/feeds/-1/dependents/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json") and response.json() == {"detail": "Not found."}


def test_a_page_that_does_not_exist_is_still_the_html_404(login: Callable[[User], Client], viewer: User) -> None:
    response = login(viewer).get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_a_huge_id_in_a_filter_is_a_400_not_a_500(api: Callable[[User], APIClient], viewer: User) -> None:
    response = api(viewer).get("/api/v1/rotations/?feed=-1.6e199")
    assert response.status_code == 400 and "feed" in response.json()
