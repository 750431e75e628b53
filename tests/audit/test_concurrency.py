"""Many writers at once (threads, each with its own connection, committing for real): the chain never forks and
nobody deadlocks, also when writers hold locks on business rows while others seal."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.db import close_old_connections, connection, transaction

from audit.chain import audit_verify
from audit.models import AuditChainHead, AuditEvent
from audit.services import audit_record

THREADS = 8
EACH = 15


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain_nor_deadlock() -> None:
    shared = Group.objects.create(name="shared-row")
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(EACH):
                with transaction.atomic():
                    if (n + i) % 2:
                        # A business lock first, then the event (the order services use) ...
                        Group.objects.select_for_update().get(pk=shared.pk)
                        audit_record(actor="worker", action="race.locked", object_id=f"{n}-{i}")
                    else:
                        # ... or the event first, then the business lock.
                        audit_record(actor="worker", action="race.unlocked", object_id=f"{n}-{i}")
                        Group.objects.select_for_update().get(pk=shared.pk)
                    time.sleep(0.001)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer is stuck (deadlock)"
    assert errors == []
    # The seals after each commit alone sealed everything: a sealer that found the chain head locked left it to
    # the one holding it, which looked again after its commit (no periodic seal, no verify has run yet).
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    result = audit_verify()
    assert result.intact, result.reason
    written = AuditEvent.objects.filter(action__startswith="race.")
    assert written.count() == THREADS * EACH and not written.filter(seq__isnull=True).exists()
    seqs = sorted(AuditEvent.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert AuditChainHead.objects.get(pk=1).seq == len(seqs)
