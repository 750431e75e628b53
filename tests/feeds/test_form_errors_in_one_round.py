"""A feed form with an error of its own and one only the services find (a taken name, a URL with credentials in
it, the token again for a new host) shows them all after the first submission, not one round at a time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from feeds import services
from feeds.models import Feed

Login = Callable[[User], Client]
CREDENTIAL_URL = "https://build:s3cret-token@pypi.acme.example/simple/"


def new_feed(**overrides: str) -> dict[str, str]:
    data = {
        "name": "acme-private",
        "kind": "generic",
        "index_url": "https://pkgs.example.com/simple/",
        "username": "",
        "token": "tok-123456789",
        "token_expires_at": "",
    }
    data.update(overrides)
    return data


def test_a_taken_name_comes_with_a_bad_expiry_in_the_first_answer(login: Login, admin: User, feed: Feed) -> None:
    response = login(admin).post(reverse("feeds:create"), new_feed(name=feed.name.upper(), token_expires_at="soon"))
    errors = response.context["form"].errors
    assert response.status_code == 400 and set(errors) == {"name", "token_expires_at"}, errors
    assert errors["name"] == ["A feed with this name already exists."]
    assert Feed.objects.count() == 1


def test_a_credential_url_and_a_taken_name_come_with_an_empty_required_field(
    login: Login, admin: User, feed: Feed
) -> None:
    data = new_feed(name=feed.name, index_url=CREDENTIAL_URL, token="")
    response = login(admin).post(reverse("feeds:create"), data)
    errors = response.context["form"].errors
    assert response.status_code == 400 and {"name", "index_url", "token"} <= set(errors), errors
    assert "already exists" in errors["name"][0]
    assert "s3cret-token" not in response.content.decode()


def test_a_service_error_is_not_repeated_on_a_field_that_has_its_own(login: Login, admin: User) -> None:
    response = login(admin).post(reverse("feeds:create"), new_feed(name="", index_url=CREDENTIAL_URL))
    errors = response.context["form"].errors
    assert errors["name"] == ["This field is required."] and "index_url" in errors


def test_the_edit_form_shows_a_taken_name_and_a_refused_url_at_once(login: Login, admin: User, feed: Feed) -> None:
    other = services.feed_create(
        actor=admin, name="other", kind="generic", index_url="https://other.example/simple/", token="tok-2"
    )
    data = {"name": other.name, "kind": "generic", "index_url": CREDENTIAL_URL, "username": "ci", "token": ""}
    response = login(admin).post(reverse("feeds:edit", args=[feed.pk]), data)
    errors = response.context["form"].errors
    assert response.status_code == 400 and {"name", "index_url"} <= set(errors), errors
    feed.refresh_from_db()
    assert feed.name == "acme-private"


def test_the_edit_form_asks_for_the_token_with_a_taken_name_when_the_host_moves(
    login: Login, admin: User, feed: Feed
) -> None:
    services.feed_create(actor=admin, name="other", kind="generic", index_url="https://o.example/simple/", token="t2")
    data = {"name": "other", "kind": "generic", "index_url": "https://moved.example/simple/", "username": "ci"}
    errors = login(admin).post(reverse("feeds:edit", args=[feed.pk]), {**data, "token": ""}).context["form"].errors
    assert set(errors) == {"name", "token"}, errors


def test_the_service_itself_answers_every_error_at_once(admin: User, feed: Feed) -> None:
    with pytest.raises(ValidationError) as caught:
        services.feed_create(
            actor=admin, name=feed.name, kind="generic", index_url=CREDENTIAL_URL, token=" padded ", username="a\nb"
        )
    assert {"name", "index_url", "token", "username"} <= set(caught.value.message_dict)
