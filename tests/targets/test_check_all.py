""" "Check all" (and beat's sweep) requests a health check of every target in a few statements, not per target."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEvent
from core.models import CheckRun
from simulators.databricks import DatabricksSimulator
from targets import checks, services, tasks
from targets.models import Target, TargetCheck


def test_check_all_requests_one_pending_check_per_target_in_a_few_statements_and_enqueues_each_once_committed(
    db: None,
    admin: Any,
    databricks: DatabricksSimulator,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
    django_assert_max_num_queries: Any,
) -> None:
    for i in range(12):
        services.target_create(
            actor=admin, kind="databricks", name=f"ws-{i}", url=databricks.urls[i % 2], auth_type="pat", token="dapi"
        )
    before = set(TargetCheck.objects.values_list("pk", flat=True))
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_target_check, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(6):
        requested = checks.targets_check_all(actor=admin)
    assert len(requested) == Target.objects.count() == 12
    rows = TargetCheck.objects.exclude(pk__in=before).order_by("pk")
    assert [c.target_id for c in rows] == sorted(Target.objects.values_list("pk", flat=True))
    assert {(c.kind, c.status, c.requested_by_id) for c in rows} == {(CheckRun.Kind.TARGET, "pending", admin.pk)}
    assert sent == [c.pk for c in requested] == [c.pk for c in rows]  # each enqueued once, after the commit
    # The rows are whole checks: the shared row and the target's, found under one id; a worker runs each.
    assert CheckRun.objects.filter(pk__in=sent, kind=CheckRun.Kind.TARGET).count() == 12
    done = checks.target_check_run(check_id=sent[0])
    assert done is not None and done.status in ("ok", "warning", "failing") and done.results
    assert AuditEvent.objects.filter(action="target.check", object_id=str(done.target_id)).exists()


def test_check_all_with_no_target_requests_nothing(db: None, monkeypatch: Any) -> None:
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_target_check, "delay", sent.append)
    assert checks.targets_check_all(actor="scheduler") == [] and sent == []
