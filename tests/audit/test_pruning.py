"""Retention: events older than AUDIT_RETENTION_DAYS are pruned, an anchor is recorded, and the chain still
verifies from it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from audit.chain import audit_prune, audit_seal, audit_verify
from audit.models import AuditAnchor, AuditEvent
from tests.audit.helpers import guard_lifted, raw


def make(days_ago: float, n: int) -> list[AuditEvent]:
    return [
        AuditEvent.objects.create(
            at=timezone.now() - timedelta(days=days_ago), actor_name="cli", action="old", object_type="feed"
        )
        for _ in range(n)
    ]


def test_keeping_forever_is_the_default(db: None) -> None:
    make(400, 3)
    assert audit_prune().pruned == 0 and AuditEvent.objects.filter(action="old").count() == 3


@override_settings(AUDIT_RETENTION_DAYS=30)
def test_old_events_are_pruned_behind_an_anchor_and_the_chain_still_verifies(db: None) -> None:
    old = make(60, 4)
    recent = make(1, 2)
    audit_seal()
    result = audit_prune()
    assert result.pruned >= 4 and result.anchor is not None
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in recent]).count() == 2
    anchor = AuditAnchor.objects.get()
    assert anchor.pruned == result.pruned
    assert AuditEvent.objects.filter(action="audit.prune", detail__anchor_seq=anchor.seq).exists()
    verified = audit_verify()
    assert verified.intact, verified.reason
    assert audit_prune().pruned == 0


@override_settings(AUDIT_RETENTION_DAYS=30)
def test_a_deletion_after_the_anchor_is_still_found(db: None) -> None:
    make(60, 2)
    recent = make(1, 3)
    audit_prune()
    with guard_lifted():
        raw("DELETE FROM audit_auditevent WHERE id = %s", [recent[0].pk])
    assert audit_verify().first_broken == recent[1].pk


def test_the_command_prunes_with_a_number_of_days(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    make(10, 2)
    call_command("prune_audit", "--days", "5")
    assert "pruned 2 events" in capsys.readouterr().out
    assert audit_verify().intact
