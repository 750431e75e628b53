"""`GET /api/v1/audit/export/`: the filtered set as CSV, streamed, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from audit import export
from audit.services import audit_record

Api = Callable[[User], APIClient]


def rows(response: object) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(body)))


def test_it_streams_the_filtered_events_newest_first(api: Api, viewer: User) -> None:
    first = audit_record(actor="cli", action="feed.create", object_type="feed", object_id=1, object_repr="one")
    second = audit_record(actor="cli", action="feed.create", object_type="feed", object_id=2, detail={"k": "v"})
    audit_record(actor="cli", action="target.create", object_type="target", object_id=3)
    response = api(viewer).get("/api/v1/audit/export/?action=feed.create")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    got = rows(response)
    assert [r["id"] for r in got] == [str(second.pk), str(first.pk)]
    assert got[0]["detail"] == '{"k": "v"}' and got[1]["object_repr"] == "one"
    assert set(export.COLUMNS) == set(got[0])


def test_cells_a_spreadsheet_would_run_as_formulas_are_defused(api: Api, viewer: User) -> None:
    for text in ("=HYPERLINK(1)", "+1", "-2", "@SUM(1)", "\tx", "\rx", "plain"):
        audit_record(actor="cli", action="evil", object_type="feed", object_repr=text)
    got = {r["object_repr"] for r in rows(api(viewer).get("/api/v1/audit/export/?action=evil"))}
    assert got == {"'=HYPERLINK(1)", "'+1", "'-2", "'@SUM(1)", "'\tx", "'\rx", "plain"}


def test_it_reads_in_batches_however_many_events(api: Api, viewer: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "BATCH", 3)
    made = [audit_record(actor="cli", action="bulk", object_id=i + 1).pk for i in range(8)]
    assert [int(r["id"]) for r in rows(api(viewer).get("/api/v1/audit/export/?action=bulk"))] == made[::-1]


def test_a_bad_filter_is_a_400_and_a_role_is_needed(api: Api, viewer: User, outsider: User) -> None:
    response = api(viewer).get("/api/v1/audit/export/?since=never")
    assert response.status_code == 400 and "since" in response.json()
    assert APIClient().get("/api/v1/audit/export/").status_code == 401
    assert api(outsider).get("/api/v1/audit/export/").status_code == 403


def test_the_page_links_to_the_export_with_its_filters(login: Callable[[User], Client], viewer: User) -> None:
    body = login(viewer).get("/audit/?action=feed.create&outcome=success").content.decode()
    assert 'href="/api/v1/audit/export/?action=feed.create&amp;outcome=success"' in body
    assert login(viewer).get("/api/v1/audit/export/?action=feed.create").status_code == 200
