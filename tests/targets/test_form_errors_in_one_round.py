"""A target form with an error of its own and one only the services find (a taken name, a URL with credentials in
it, the credential again for a new address) shows them all after the first submission, not one round at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from targets import services
from targets.models import Target

Login = Callable[[User], Client]
WORKSPACE_URL = "https://adb-1234567890123456.7.azuredatabricks.net"
CREDENTIAL_URL = "https://token:dapi-leaked-77@adb-1234567890123456.7.azuredatabricks.net"


@pytest.fixture
def target(admin: User) -> Target:
    return services.target_create(
        actor=admin, kind="databricks", name="ws-offline", url=WORKSPACE_URL, auth_type="pat", token="dapi-sim-token"
    )


def target_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "kind": "databricks",
        "name": "ws-new",
        "url": WORKSPACE_URL,
        "auth_type": "pat",
        "token": "dapi-new-0b7c3e1f9a",
        "client_id": "",
        "client_secret": "",
        "organization": "",
        "max_concurrency": "4",
    }
    data.update(overrides)
    return data


def test_a_taken_name_comes_with_a_bad_field_in_the_first_answer(login: Login, admin: User, target: Target) -> None:
    data = target_data(name=target.name.upper(), max_concurrency="500")
    response = login(admin).post(reverse("targets:create"), data)
    errors = response.context["form"].errors
    assert response.status_code == 400 and set(errors) == {"name", "max_concurrency"}, errors
    assert errors["name"] == ["A target with this name already exists."]
    assert Target.objects.count() == 1


def test_a_credential_url_a_taken_name_and_a_missing_credential_come_together(
    login: Login, admin: User, target: Target
) -> None:
    data = target_data(name=target.name, url=CREDENTIAL_URL, token="", credential_expires_at="not a date")
    response = login(admin).post(reverse("targets:create"), data)
    errors = response.context["form"].errors
    assert response.status_code == 400, errors
    assert {"name", "url", "token", "credential_expires_at"} <= set(errors), errors
    assert "dapi-leaked-77" not in response.content.decode()


def test_the_edit_form_shows_a_taken_name_and_the_credential_needed_for_a_new_address(
    login: Login, admin: User, target: Target
) -> None:
    services.target_create(
        actor=admin, kind="databricks", name="ws-other", url=WORKSPACE_URL, auth_type="pat", token="dapi-other"
    )
    data = target_data(name="ws-other", url="https://adb-999.9.azuredatabricks.net", token="", max_concurrency="0")
    del data["kind"]
    response = login(admin).post(reverse("targets:edit", args=[target.pk]), data)
    errors = response.context["form"].errors
    assert response.status_code == 400 and {"name", "token", "max_concurrency"} <= set(errors), errors
    target.refresh_from_db()
    assert (target.name, target.url) == ("ws-offline", WORKSPACE_URL)


def test_the_service_itself_answers_every_error_at_once(admin: User, target: Target) -> None:
    with pytest.raises(ValidationError) as caught:
        services.target_create(
            actor=admin,
            kind="databricks",
            name=target.name,
            url=CREDENTIAL_URL,
            auth_type="pat",
            token=" padded ",
            credential_rotation_days=999,
        )
    assert {"name", "url", "token", "credential_rotation_days"} <= set(caught.value.message_dict)
