"""`manage.py issue_api_token <username>`: the token is the last line of the output and works as Bearer."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.models import ApiToken, hash_token


def issue(*args: str) -> str:
    out = StringIO()
    call_command("issue_api_token", *args, stdout=out)
    return out.getvalue()


def test_it_prints_a_token_as_the_last_line_that_works_as_bearer(viewer: User) -> None:
    raw = issue(viewer.username).strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/feeds/").status_code == 200


def test_only_the_hash_is_stored_and_the_audit_event_holds_no_token(viewer: User) -> None:
    raw = issue(viewer.username, "--name", "ci").strip().splitlines()[-1]
    token = ApiToken.objects.get(user=viewer)
    assert token.name == "ci" and token.token_hash == hash_token(raw) and raw not in str(vars(token))
    event = AuditEvent.objects.get(action="api_token.issue")
    assert event.actor_name == "cli" and raw not in str(event.detail) and raw not in event.object_repr


def test_an_unknown_user_is_a_command_error(db: None) -> None:
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        issue("nobody")


def test_an_inactive_user_is_a_command_error(viewer: User) -> None:
    viewer.is_active = False
    viewer.save()
    with pytest.raises(CommandError, match="not active"):
        issue(viewer.username)
