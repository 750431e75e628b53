"""THE canary test: a token saved through the UI and the API, and used by a real worker, appears nowhere else —
not in any page or API answer, log line, worker log, audit row, or in plain text anywhere in the database."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote
from uuid import uuid4

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core import serializers
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from feeds.models import FINAL_CHECK_STATUSES, Feed, FeedCheck, TokenVersion
from tests.support.leaks import database_dump
from tests.support.pypi import PrivateIndex
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker

UI_USER = "canary-ui"
API_USER = "canary-api"


def wait_for_checks(timeout: float = 30) -> list[FeedCheck]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checks = list(FeedCheck.objects.order_by("pk"))
        if checks and all(c.status in FINAL_CHECK_STATUSES for c in checks):
            return checks
        time.sleep(0.2)
    raise AssertionError(f"checks still running: {[(c.pk, c.status) for c in FeedCheck.objects.all()]}")


def forms_of(canary: str, username: str) -> list[str]:
    """Every way the canary could leak: as is, percent-encoded (in a URL), and inside a Basic header."""
    return [
        canary,
        quote(canary, safe=""),
        quote(canary),
        base64.b64encode(f"{username}:{canary}".encode()).decode(),
    ]


def test_a_saved_token_appears_in_no_page_answer_log_audit_row_or_database_column(
    celery_worker_process: WorkerProcess,
    private_index: PrivateIndex,
    admin: User,
    login: Callable[[User], Client],
    api: Callable[[User], APIClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "celery", "kombu", "feeds", "core", "audit"):
        caplog.set_level(logging.DEBUG, logger=name)
    canary = "canary-" + uuid4().hex
    special = f"canary-p@ss:w/rd%#?-{uuid4().hex}"
    api_canary = "canary-" + uuid4().hex
    patched = "canary-" + uuid4().hex
    refused = "canary-" + uuid4().hex
    leaks = [
        *forms_of(canary, UI_USER),
        *forms_of(special, UI_USER),
        *forms_of(api_canary, API_USER),
        *forms_of(patched, API_USER),
        *forms_of(refused, UI_USER),
    ]
    answers: list[tuple[str, bytes]] = []

    def keep(label: str, response: object) -> object:
        answers.append((label, response.content))  # type: ignore[attr-defined]
        return response

    ui = login(admin)
    client = api(admin)

    # Through the UI: create, then replace the token with the special-character canary.
    private_index.add_user(UI_USER, canary)
    created = keep("ui create", ui.post("/feeds/new/", {**_form("ui-feed", private_index.url), "token": canary}))
    assert created.status_code == 302, created.content  # type: ignore[attr-defined]
    ui_feed = Feed.objects.get(name="ui-feed")
    private_index.add_user(UI_USER, special)
    replaced = keep("ui token", ui.post(f"/feeds/{ui_feed.pk}/token/", {"token": special}))
    assert replaced.status_code == 302  # type: ignore[attr-defined]

    # Through the API: create, then PATCH a new canary in.
    private_index.add_user(API_USER, api_canary)
    response = keep(
        "api create",
        client.post(
            "/api/v1/feeds/",
            {"name": "api-feed", "index_url": private_index.url, "username": API_USER, "token": api_canary},
            format="json",
        ),
    )
    assert response.status_code == 201, response.content  # type: ignore[attr-defined]
    api_feed_id = response.json()["id"]  # type: ignore[attr-defined]
    private_index.add_user(API_USER, patched)
    patch = keep("api patch", client.patch(f"/api/v1/feeds/{api_feed_id}/", {"token": patched}, format="json"))
    assert patch.status_code == 200  # type: ignore[attr-defined]

    # Refused saves must not echo the token either.
    bad = {**_form("ui-feed", private_index.url), "token": refused}
    assert keep("ui refused", ui.post("/feeds/new/", bad)).status_code == 400  # type: ignore[attr-defined]
    bad_api = {"name": "x", "index_url": "https://u:p@h.example/", "token": refused}
    assert keep("api refused", client.post("/api/v1/feeds/", bad_api, format="json")).status_code == 400  # type: ignore[attr-defined]

    # Checks on the real worker, from the page and the API.
    assert keep("ui check", ui.post(f"/feeds/{ui_feed.pk}/check/")).status_code == 302  # type: ignore[attr-defined]
    started = keep("api check", client.post(f"/api/v1/feeds/{api_feed_id}/check/"))
    assert started.status_code == 202  # type: ignore[attr-defined]
    checks = wait_for_checks()
    last = {c.feed_id: c for c in checks}
    assert last[ui_feed.pk].status == "ok", last[ui_feed.pk].detail
    assert last[api_feed_id].status == "ok", last[api_feed_id].detail
    assert "feeds.run_feed_check" in celery_worker_process.log()

    # Every page and API answer.
    pages = ["/", "/feeds/", "/audit/", "/account/tokens/", "/notifications/", "/notifications/channels/"]
    for pk in (ui_feed.pk, api_feed_id):
        pages += [f"/feeds/{pk}/", f"/feeds/{pk}/edit/", f"/feeds/{pk}/token/", f"/feeds/{pk}/delete/"]
    pages += [f"/feeds/checks/{c.pk}/" for c in checks]
    for url in pages:
        response = keep(url, ui.get(url))
        assert response.status_code == 200, url  # type: ignore[attr-defined]
    endpoints = ["/api/v1/feeds/", "/api/v1/feed-checks/", "/api/v1/audit/", "/api/v1/schema/?format=json"]
    endpoints += ["/api/v1/notifications/", "/api/v1/notification-channels/"]
    endpoints += [f"/api/v1/feeds/{pk}/" for pk in (ui_feed.pk, api_feed_id)]
    endpoints += [f"/api/v1/checks/{c.pk}/" for c in checks]
    endpoints += [f"/api/v1/audit/{e.pk}/" for e in AuditEvent.objects.all()]
    for url in endpoints:
        response = keep(url, client.get(url))
        assert response.status_code == 200, url  # type: ignore[attr-defined]

    for label, content in answers:
        text = content.decode(errors="replace")
        assert not [leak for leak in leaks if leak in text], f"a canary leaked into {label}"

    # Logs, in this process and the worker's.
    logged = caplog.text + "\n".join(r.getMessage() + str(r.exc_text or "") for r in caplog.records)
    assert not [leak for leak in leaks if leak in logged], "a canary leaked into a log record"
    worker_log = celery_worker_process.log()
    assert not [leak for leak in leaks if leak in worker_log], "a canary leaked into the worker's log"

    # Audit rows, serialized whole.
    audit_json = serializers.serialize("json", AuditEvent.objects.all())
    assert AuditEvent.objects.filter(action="feed.token_replace").count() == 2
    assert not [leak for leak in leaks if leak in audit_json], "a canary leaked into an audit event"

    # The database holds every token, but only encrypted.
    assert {v.reveal() for v in TokenVersion.objects.all()} == {canary, special, api_canary, patched}
    dump = database_dump()
    assert "feeds_tokenversion" in dump and "audit_auditevent" in dump and "django_celery_beat" in dump
    assert not [leak for leak in leaks if leak in dump], "a canary is stored in plain text"

    # Nor is any left in the broker's folders (task messages carry ids only).
    broker = Path(settings.BROKER_DIR)
    for path in broker.rglob("*") if broker.exists() else []:
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [leak for leak in leaks if leak in text], f"a canary is in the broker file {path}"


def _form(name: str, index_url: str) -> dict[str, str]:
    return {"name": name, "kind": "generic", "index_url": index_url, "username": UI_USER, "token_expires_at": ""}
