"""What a new user met on the feed form: the order of the fields, the token after an error, all errors at once,
the fields a kind needs marked, and no silent cut of a long value by the browser."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from feeds.models import Feed

Login = Callable[[User], Client]


def field_names(body: str) -> list[str]:
    return re.findall(r'data-field="([a-z_]+)"', body)


def test_name_and_kind_come_before_the_token(login: Login, admin: User) -> None:
    names = field_names(login(admin).get(reverse("feeds:create")).content.decode())
    assert names.index("name") < names.index("kind") < names.index("index_url") < names.index("token")


def test_after_an_error_the_token_field_says_to_enter_it_again(login: Login, admin: User) -> None:
    data = {"name": "", "kind": "generic", "index_url": "https://x.example/simple/", "token": "tok-123456789"}
    body = login(admin).post(reverse("feeds:create"), data).content.decode()
    assert "tok-123456789" not in body and "Enter the token again" in body


def test_every_error_of_the_form_comes_in_one_round(login: Login, admin: User) -> None:
    data = {"name": "n" * 5000, "kind": "generic", "index_url": "", "token": "tok-123456789"}
    response = login(admin).post(reverse("feeds:create"), data)
    errors = response.context["form"].errors
    assert response.status_code == 400 and "name" in errors and "index_url" in errors
    assert "at most 100 characters" in errors["name"][0]
    assert not Feed.objects.exists()


def test_the_browser_is_not_told_to_cut_long_values(login: Login, admin: User) -> None:
    body = login(admin).get(reverse("feeds:create")).content.decode()
    assert "maxlength" not in body


def test_the_index_url_is_marked_required_for_the_generic_kind(login: Login, admin: User) -> None:
    body = login(admin).get(reverse("feeds:create")).content.decode()
    label = re.search(r'<label for="id_index_url">.*?</label>', body, re.S)
    assert label and 'data-required-for="generic"' in label.group(0)
