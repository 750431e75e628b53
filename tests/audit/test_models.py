"""Audit events are append-only: never changed, never deleted."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from audit.models import AppendOnlyError, AuditEvent
from audit.services import audit_record


@pytest.fixture
def event(admin: User) -> AuditEvent:
    return audit_record(actor=admin, action="feed.create", object_type="feed", object_id=1, object_repr="f")


def test_saving_an_existing_event_raises(event: AuditEvent) -> None:
    event.action = "feed.delete"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "feed.create"


def test_deleting_an_event_raises(event: AuditEvent) -> None:
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_updating_or_deleting_through_the_queryset_raises(event: AuditEvent) -> None:
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError), transaction.atomic():  # bulk_update has no savepoint of its own
        AuditEvent.objects.bulk_update([event], ["action"])
    assert AuditEvent.objects.get(pk=event.pk).action == "feed.create"


def test_deleting_a_user_keeps_their_events_under_their_name_untouched(event: AuditEvent, admin: User) -> None:
    pk = admin.pk
    admin.delete()
    kept = AuditEvent.objects.get(pk=event.pk)
    assert kept.actor_id == pk and kept.actor_name == "alice-admin" and kept.action == "feed.create"


def test_an_actor_given_by_name_or_none_is_recorded_as_such(db: None) -> None:
    assert audit_record(actor="scheduler", action="a").actor_name == "scheduler"
    assert audit_record(actor=None, action="a").actor_name == "system"


def test_the_detail_and_repr_are_redacted(db: None) -> None:
    event = audit_record(
        actor="cli",
        action="a",
        object_repr="https://u:repr-secret-1@h/",
        detail={"url": "https://u:detail-secret-2@h/", "note": "had listed-secret-3"},
        secrets=["listed-secret-3"],
    )
    text = str(event.detail) + event.object_repr
    assert "repr-secret-1" not in text and "detail-secret-2" not in text and "listed-secret-3" not in text
