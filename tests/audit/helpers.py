"""Reaching past the audit guard, as an attacker with database access would: for tamper tests only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from audit import triggers


@contextmanager
def guard_lifted() -> Iterator[None]:
    """The guard triggers off (PostgreSQL: ALTER TABLE ... DISABLE TRIGGER; SQLite: dropped), then back on."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")
    else:
        triggers.uninstall(connection)
        try:
            yield
        finally:
            triggers.install(connection)


def raw(sql: str, params: list[object] | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return int(cursor.rowcount)
