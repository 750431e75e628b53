"""The database's own guard of the audit history, for PostgreSQL and SQLite.

- ``audit_auditevent``: DELETE is refused unless the event is sealed and covered by a retention anchor (pruning
  records the anchor first, in the same transaction); UPDATE is refused except the one-time seal, which sets
  ``seq``, ``prev_hash`` and ``hash`` from NULL on an otherwise unchanged row.
- ``audit_auditanchor``: UPDATE and DELETE are refused.

Row triggers do not fire on PostgreSQL's TRUNCATE, which is what ``manage.py flush`` (and so the test runner) uses
there; on SQLite flush deletes rows, so :mod:`audit.management.commands.flush` lifts the triggers around it.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

CONTENT = ("id", "at", "actor_id", "actor_name", "action", "object_type", "object_id", "object_repr", "outcome")

_PG_SAME = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in (*CONTENT, "detail"))
_SQLITE_SAME = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in (*CONTENT, "detail"))
_SEALING = (
    "OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL"
    " AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL"
)
_ANCHORED = "OLD.seq IS NOT NULL AND OLD.seq <= (SELECT COALESCE(MAX(seq), 0) FROM audit_auditanchor)"

POSTGRESQL_INSTALL = [
    f"""
CREATE OR REPLACE FUNCTION audit_event_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF {_ANCHORED} THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: DELETE refused (event %)', OLD.id;
  END IF;
  IF {_SEALING} AND {_PG_SAME} THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit events are append-only: UPDATE refused (event %)', OLD.id;
END;
$$""",
    """
CREATE OR REPLACE FUNCTION audit_anchor_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit anchors are append-only: % refused', TG_OP;
END;
$$""",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent"
    " FOR EACH ROW EXECUTE FUNCTION audit_event_guard()",
    "DROP TRIGGER IF EXISTS audit_anchor_append_only ON audit_auditanchor",
    "CREATE TRIGGER audit_anchor_append_only BEFORE UPDATE OR DELETE ON audit_auditanchor"
    " FOR EACH ROW EXECUTE FUNCTION audit_anchor_guard()",
]
POSTGRESQL_UNINSTALL = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent",
    "DROP TRIGGER IF EXISTS audit_anchor_append_only ON audit_auditanchor",
    "DROP FUNCTION IF EXISTS audit_event_guard()",
    "DROP FUNCTION IF EXISTS audit_anchor_guard()",
]

SQLITE_INSTALL = [
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    f"""CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent WHEN NOT ({_ANCHORED})
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END""",
    "DROP TRIGGER IF EXISTS audit_event_seal_only",
    f"""CREATE TRIGGER audit_event_seal_only BEFORE UPDATE ON audit_auditevent
WHEN NOT ({_SEALING} AND {_SQLITE_SAME})
BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END""",
    "DROP TRIGGER IF EXISTS audit_anchor_no_update",
    """CREATE TRIGGER audit_anchor_no_update BEFORE UPDATE ON audit_auditanchor
BEGIN SELECT RAISE(ABORT, 'audit anchors are append-only: UPDATE refused'); END""",
    "DROP TRIGGER IF EXISTS audit_anchor_no_delete",
    """CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_auditanchor
BEGIN SELECT RAISE(ABORT, 'audit anchors are append-only: DELETE refused'); END""",
]
SQLITE_UNINSTALL = [
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    "DROP TRIGGER IF EXISTS audit_event_seal_only",
    "DROP TRIGGER IF EXISTS audit_anchor_no_update",
    "DROP TRIGGER IF EXISTS audit_anchor_no_delete",
]

# Text search (`q`): one trigram index over the searched text, PostgreSQL only (SQLite scans).
SEARCHED = ("action", "actor_name", "object_type", "object_id", "object_repr", "detail")


def search_sql(vendor: str, table: str = "") -> str:
    """The searched text as one SQL expression (the trigram index is over exactly this, unqualified)."""
    prefix = f'"{table}".' if table else ""
    columns = [f"{prefix}{c}" for c in SEARCHED]
    if vendor == "postgresql":
        columns[-1] += "::text"
    return "(" + " || ' ' || ".join(columns) + ")"


POSTGRESQL_SEARCH_INSTALL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS audit_search_trgm ON audit_auditevent USING gin ({search_sql('postgresql')}"
    " gin_trgm_ops)",
]
POSTGRESQL_SEARCH_UNINSTALL = ["DROP INDEX IF EXISTS audit_search_trgm"]


def _run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def install(connection: BaseDatabaseWrapper) -> None:
    """Create (or re-create) the guard triggers for this database."""
    if connection.vendor == "postgresql":
        _run(connection, POSTGRESQL_INSTALL)
    elif connection.vendor == "sqlite":
        _run(connection, SQLITE_INSTALL)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    """Drop the guard triggers (migrating backwards, and around a flush on SQLite)."""
    if connection.vendor == "postgresql":
        _run(connection, POSTGRESQL_UNINSTALL)
    elif connection.vendor == "sqlite":
        _run(connection, SQLITE_UNINSTALL)


def install_search(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "postgresql":
        _run(connection, POSTGRESQL_SEARCH_INSTALL)


def uninstall_search(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "postgresql":
        _run(connection, POSTGRESQL_SEARCH_UNINSTALL)
