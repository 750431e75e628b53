"""The database itself refuses to change or delete audit events (raw SQL, past the ORM), on PostgreSQL and SQLite;
it allows only the one-time seal."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from audit.chain import audit_seal
from audit.models import AuditAnchor, AuditEvent
from audit.services import audit_record
from tests.audit.helpers import raw


@pytest.fixture
def sealed(db: None) -> AuditEvent:
    event = audit_record(actor="cli", action="feed.create", object_type="feed", object_id=1, detail={"a": 1})
    audit_seal()
    return AuditEvent.objects.get(pk=event.pk)


def refused(sql: str, params: list[object]) -> bool:
    try:
        with transaction.atomic():
            raw(sql, params)
    except DatabaseError as exc:
        return "append-only" in str(exc)
    return False


def test_an_update_is_refused(sealed: AuditEvent) -> None:
    assert refused("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [sealed.pk])
    assert refused("UPDATE audit_auditevent SET detail = %s WHERE id = %s", ['{"a": 2}', sealed.pk])
    assert AuditEvent.objects.get(pk=sealed.pk).action == "feed.create"


def test_a_delete_is_refused(sealed: AuditEvent) -> None:
    assert refused("DELETE FROM audit_auditevent WHERE id = %s", [sealed.pk])
    assert refused("DELETE FROM audit_auditevent", [])
    assert AuditEvent.objects.filter(pk=sealed.pk).exists()


def test_a_sealed_event_cannot_be_sealed_again(sealed: AuditEvent) -> None:
    assert refused("UPDATE audit_auditevent SET hash = %s WHERE id = %s", ["f" * 64, sealed.pk])
    assert refused("UPDATE audit_auditevent SET seq = NULL, prev_hash = NULL, hash = NULL WHERE id = %s", [sealed.pk])


def test_sealing_may_not_change_the_content_at_the_same_time(db: None) -> None:
    event = audit_record(actor="cli", action="feed.create")
    sql = "UPDATE audit_auditevent SET seq = 1, prev_hash = %s, hash = %s, action = 'x' WHERE id = %s"
    assert refused(sql, ["0" * 64, "f" * 64, event.pk])
    sql = "UPDATE audit_auditevent SET seq = 1, prev_hash = %s, hash = %s WHERE id = %s"
    assert not refused(sql, ["0" * 64, "f" * 64, event.pk])


def test_an_event_not_covered_by_an_anchor_cannot_be_deleted_even_with_one(sealed: AuditEvent) -> None:
    later = audit_record(actor="cli", action="later")
    audit_seal()
    later = AuditEvent.objects.get(pk=later.pk)
    AuditAnchor.objects.create(seq=sealed.seq, hash=sealed.hash, cutoff=sealed.at)
    assert refused("DELETE FROM audit_auditevent WHERE id = %s", [later.pk])
    assert not refused("DELETE FROM audit_auditevent WHERE id = %s", [sealed.pk])


def test_anchors_cannot_be_changed_or_deleted(sealed: AuditEvent) -> None:
    anchor = AuditAnchor.objects.create(seq=sealed.seq, hash=sealed.hash, cutoff=sealed.at)
    assert refused("UPDATE audit_auditanchor SET seq = 0 WHERE id = %s", [anchor.pk])
    assert refused("DELETE FROM audit_auditanchor WHERE id = %s", [anchor.pk])
