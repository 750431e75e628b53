"""Scan tasks: a scan runs once even when delivered twice, and the reconciler fails scans whose worker died and
enqueues again scans left pending."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from core.models import CheckRun
from findings import services
from findings.models import ScanRun
from targets.models import Target


def test_a_scan_delivered_twice_runs_once(db: None, workspace: Target) -> None:
    run = services.target_scan_request(actor="system", target=workspace)
    assert services.target_scan_run(scan_id=run.pk) is not None
    assert services.target_scan_run(scan_id=run.pk) is None


def test_the_reconciler_fails_a_stuck_scan_and_enqueues_an_old_pending_one(
    db: None, workspace: Target, monkeypatch: Any
) -> None:
    stuck = services.target_scan_request(actor="system", target=workspace)
    pending = services.target_scan_request(actor="system", target=workspace)
    long_ago = timezone.now() - timedelta(hours=1)
    CheckRun.objects.filter(pk=stuck.pk).update(status="running", started_at=long_ago)
    CheckRun.objects.filter(pk=pending.pk).update(created_at=long_ago)
    enqueued: list[int] = []
    monkeypatch.setattr("findings.tasks.run_scan.delay", enqueued.append)
    assert services.scans_reconcile() == {"failed_stuck": 1, "requeued": 1}
    assert ScanRun.objects.get(pk=stuck.pk).status == "failed" and enqueued == [pending.pk]
