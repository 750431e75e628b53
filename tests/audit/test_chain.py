"""The hash chain: events are sealed in order, each chained to the one before; verification finds a changed,
deleted or missing event, by the command, the API and the page's badge."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from audit.chain import GENESIS, audit_seal, audit_verify, event_hash
from audit.models import AuditEvent, AuditVerification
from audit.services import audit_record
from tests.audit.helpers import guard_lifted, raw


@pytest.fixture
def five(db: None) -> list[AuditEvent]:
    made = [audit_record(actor="cli", action="feed.create", object_type="feed", object_id=i) for i in range(1, 6)]
    audit_seal()
    return [AuditEvent.objects.get(pk=e.pk) for e in made]


def test_events_are_written_unsealed_and_sealed_in_order_each_chained_to_the_one_before(db: None) -> None:
    first = audit_record(actor="cli", action="a", detail={"n": 1})
    second = audit_record(actor="cli", action="b", detail={"n": 2})
    assert (first.seq, first.hash) == (None, None)
    assert audit_seal() >= 2
    sealed = list(AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values())
    assert [r["seq"] for r in sealed] == list(range(1, len(sealed) + 1))
    assert sealed[0]["prev_hash"] == GENESIS
    for before, after in itertools.pairwise(sealed):
        assert after["prev_hash"] == before["hash"]
    by_id = {r["id"]: r for r in sealed}
    assert by_id[first.pk]["seq"] < by_id[second.pk]["seq"]
    row = by_id[second.pk]
    assert row["hash"] == event_hash(row, seq=row["seq"], prev_hash=row["prev_hash"])
    assert audit_seal() == 0


def test_an_untouched_chain_verifies_intact(five: list[AuditEvent]) -> None:
    result = audit_verify()
    assert (result.intact, result.first_broken) == (True, None)
    assert result.events == AuditEvent.objects.count()


def test_a_changed_event_is_found_and_named(five: list[AuditEvent]) -> None:
    with guard_lifted():
        raw("UPDATE audit_auditevent SET object_repr = 'forged' WHERE id = %s", [five[2].pk])
    result = audit_verify()
    assert (result.intact, result.first_broken) == (False, five[2].pk)
    assert "does not match" in result.reason


def test_an_event_deleted_in_the_middle_is_found(five: list[AuditEvent]) -> None:
    with guard_lifted():
        raw("DELETE FROM audit_auditevent WHERE id = %s", [five[2].pk])
    result = audit_verify()
    assert (result.intact, result.first_broken) == (False, five[3].pk)
    assert "missing" in result.reason


def test_events_deleted_at_the_end_are_found(five: list[AuditEvent]) -> None:
    with guard_lifted():
        raw("DELETE FROM audit_auditevent WHERE id = %s", [five[4].pk])
    result = audit_verify()
    assert result.intact is False and result.first_broken is None and "last 1 event" in result.reason


def test_a_recomputed_hash_still_breaks_the_link_to_the_next_event(five: list[AuditEvent]) -> None:
    row = AuditEvent.objects.filter(pk=five[1].pk).values().get()
    row["action"] = "feed.delete"
    forged = event_hash(row, seq=row["seq"], prev_hash=row["prev_hash"])
    with guard_lifted():
        raw("UPDATE audit_auditevent SET action = 'feed.delete', hash = %s WHERE id = %s", [forged, five[1].pk])
    assert audit_verify().first_broken == five[2].pk


def test_an_event_left_unsealed_too_long_breaks_the_chain(
    five: list[AuditEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    late = audit_record(actor="cli", action="late")
    with guard_lifted():
        raw("UPDATE audit_auditevent SET at = %s WHERE id = %s", [timezone.now() - timedelta(hours=1), late.pk])
    monkeypatch.setattr("audit.chain.audit_seal_quietly", lambda: None)  # sealing is failing
    result = audit_verify()
    assert (result.intact, result.first_broken) == (False, late.pk)


def test_verification_goes_on_incrementally_from_where_it_stopped(five: list[AuditEvent]) -> None:
    full = audit_verify()
    audit_record(actor="cli", action="later")
    more = audit_verify(incremental=True)
    assert more.intact and more.events == full.events + 1
    stored = AuditVerification.objects.get(pk=1)
    assert stored.intact and stored.events == more.events and stored.full is False


def test_the_command_exits_0_when_intact_and_1_naming_the_broken_event(
    five: list[AuditEvent], capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("verify_audit")
    assert "intact" in capsys.readouterr().out
    with guard_lifted():
        raw("UPDATE audit_auditevent SET actor_name = 'mallory' WHERE id = %s", [five[0].pk])
    with pytest.raises(CommandError, match=f"event {five[0].pk}") as raised:
        call_command("verify_audit")
    assert raised.value.returncode == 1


def test_the_api_answers_the_contract(five: list[AuditEvent], api: Callable[[User], APIClient], viewer: User) -> None:
    client = api(viewer)
    assert client.get("/api/v1/audit/verify/").json() | {"reason": "", "checked_at": ""} == {
        "intact": True,
        "events": AuditEvent.objects.count(),
        "first_broken": None,
        "reason": "",
        "checked_at": "",
    }
    with guard_lifted():
        raw("UPDATE audit_auditevent SET detail = %s WHERE id = %s", ['{"forged": true}', five[1].pk])
    data = client.get("/api/v1/audit/verify/").json()
    assert (data["intact"], data["first_broken"]) == (False, five[1].pk)
    assert APIClient().get("/api/v1/audit/verify/").status_code == 401


def test_the_page_shows_the_last_verification(
    five: list[AuditEvent], login: Callable[[User], Client], viewer: User
) -> None:
    client = login(viewer)
    assert "chain not verified yet" in client.get("/audit/").content.decode()
    audit_verify()
    assert "chain intact" in client.get("/audit/").content.decode()
    with guard_lifted():
        raw("UPDATE audit_auditevent SET object_id = '99' WHERE id = %s", [five[3].pk])
    audit_verify()
    body = client.get("/audit/").content.decode()
    assert "chain broken" in body and f"#{five[3].pk}" in body
