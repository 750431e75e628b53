"""Keyset pagination of the audit history, newest first, for the page and the API.

A cursor names the last event shown, ``(at, id)``, and a direction; the next page is the events before it in
``(-at, -id)`` order, read from a composite index whatever the depth. ``count`` is exact up to
:data:`EXACT_COUNT_LIMIT` events; above that it is PostgreSQL's estimate (``pg_class.reltuples`` for the whole
history, the planner's row estimate for a filtered set), so no request counts more than a thousand rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent

EXACT_COUNT_LIMIT = 1_000
OLDER, NEWER = "o", "n"


class BadCursor(ValueError):
    """A cursor that was not made by this module."""


def encode_cursor(event: AuditEvent, direction: str) -> str:
    raw = f"{direction}|{event.at.isoformat()}|{event.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        direction, at_text, pk_text = raw.split("|")
        at = parse_datetime(at_text)
        pk = int(pk_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("Not a valid cursor.") from exc
    if direction not in (OLDER, NEWER) or at is None or at.tzinfo is None:
        raise BadCursor("Not a valid cursor.")
    return direction, at, pk


def _beyond(queryset: QuerySet[AuditEvent], direction: str, at: datetime, pk: int) -> QuerySet[AuditEvent]:
    # A row comparison, (at, id) < (x, y), which both databases answer from the (…, at, id) indexes.
    op = "<" if direction == OLDER else ">"
    sql = f'("audit_auditevent"."at", "audit_auditevent"."id") {op} (%s, %s)'
    # Raw SQL gets no field conversion: store the time as the column does (SQLite keeps naive UTC text).
    at = AuditEvent._meta.get_field("at").get_db_prep_value(at, connections[queryset.db])
    return queryset.filter(RawSQL(sql, [at, pk], output_field=BooleanField()))  # noqa: S611 - values are parameters


@dataclass
class KeysetPage:
    events: list[AuditEvent]
    next_cursor: str | None
    previous_cursor: str | None


def keyset_page(queryset: QuerySet[AuditEvent], cursor: str | None, size: int) -> KeysetPage:
    """One page of ``size`` events, newest first, after (or before) ``cursor``. Raises :class:`BadCursor`."""
    if not cursor:
        rows = list(queryset.order_by("-at", "-id")[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return KeysetPage(rows, encode_cursor(rows[-1], OLDER) if more else None, None)
    direction, at, pk = decode_cursor(cursor)
    if direction == OLDER:
        rows = list(_beyond(queryset, OLDER, at, pk).order_by("-at", "-id")[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return KeysetPage(
            rows,
            encode_cursor(rows[-1], OLDER) if more and rows else None,
            encode_cursor(rows[0], NEWER) if rows else None,
        )
    rows = list(_beyond(queryset, NEWER, at, pk).order_by("at", "id")[: size + 1])
    more = len(rows) > size
    rows = list(reversed(rows[:size]))
    return KeysetPage(
        rows,
        encode_cursor(rows[-1], OLDER) if rows else None,
        encode_cursor(rows[0], NEWER) if more and rows else None,
    )


def _planner_rows(queryset: QuerySet[AuditEvent]) -> int:
    connection = connections[queryset.db]
    sql, params = queryset.order_by().values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan: Any = cursor.fetchone()[0]  # type: ignore[index]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def estimated_count(queryset: QuerySet[AuditEvent], *, filtered: bool) -> tuple[int, bool]:
    """``(count, exact)``. Exact up to :data:`EXACT_COUNT_LIMIT`; above it, on PostgreSQL, an estimate:
    ``pg_class.reltuples`` for the whole history, the planner's row estimate for a filtered set (asked first, so a
    large filtered set is never counted). SQLite (small installations) always counts."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.order_by().count(), True
    if not filtered:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'audit_auditevent'::regclass")
            row = cursor.fetchone()
        estimate = int(row[0]) if row else 0
    else:
        estimate = _planner_rows(queryset)
    if estimate > EXACT_COUNT_LIMIT:
        return estimate, False
    bounded = queryset.order_by()[: EXACT_COUNT_LIMIT + 1].count()
    if bounded <= EXACT_COUNT_LIMIT:
        return bounded, True
    return max(estimate, bounded), False
