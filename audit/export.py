"""CSV export of a filtered audit history, streamed in keyset batches, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet

from audit.models import AuditEvent
from audit.pagination import OLDER, _beyond

COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "outcome",
    "detail",
    "seq",
    "hash",
)
# A cell a spreadsheet would read as a formula (OWASP "CSV injection") is prefixed with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 2000
FIRST_BATCH = 100


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


FIELDS = (
    "id",
    "at",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "outcome",
    "detail",
    "seq",
    "hash",
)


def csv_rows(queryset: QuerySet[AuditEvent], batch: int | None = None) -> Iterator[str]:
    """The header, then every event of ``queryset`` newest first, one CSV line each, read ``batch`` at a time
    by keyset (never an offset), so the first line goes out at once and memory stays flat."""
    batch = batch or BATCH
    size = min(batch, FIRST_BATCH)  # a small first batch: the first line goes out at once
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    page = queryset.order_by("-at", "-id")
    last: tuple[Any, int] | None = None
    while True:
        chunk = list((_beyond(page, OLDER, last[0], last[1]) if last else page).values_list(*FIELDS)[:size])
        lines = []
        for pk, at, actor, action, object_type, object_id, object_repr, outcome, detail, seq, digest in chunk:
            detail_text = json.dumps(detail, sort_keys=True, ensure_ascii=False)
            cells = (pk, at.isoformat(), actor, action, object_type, object_id, object_repr, outcome, detail_text)
            lines.append(writer.writerow([safe_cell(v) for v in (*cells, seq, digest)]))
        if lines:
            yield "".join(lines)
        if len(chunk) < size:
            return
        last, size = (chunk[-1][1], chunk[-1][0]), batch
