"""A worker hands its target's dispatched pushes to the adapter as one batch, so the adapter can share calls."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.databricks import DatabricksSimulator
from targets import pushing, services, tasks
from targets.adapters import Adapter, AdapterError, PushResult
from targets.adapters.base import PushItem
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target


class RecordingAdapter(Adapter):
    """Records each batch it is handed; fails the deliveries named in ``failing``."""

    batches: list[list[int]] = []
    parallel: list[int] = []
    failing: set[int] = set()

    def push_many(self, items: list[PushItem], *, parallel: int) -> None:
        self.batches.append([i.delivery.pk for i in items])
        self.parallel.append(parallel)
        for item in items:
            if item.delivery.pk in self.failing:
                item.error = AdapterError("refused", permanent=True)
            else:
                item.result = PushResult(remote_ts=1)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> type[RecordingAdapter]:
    RecordingAdapter.batches, RecordingAdapter.parallel, RecordingAdapter.failing = [], [], set()
    monkeypatch.setattr(Target, "adapter", lambda self: RecordingAdapter(self))
    return RecordingAdapter


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.run_push, "delay", lambda pk: sent.append(("run", pk)))
    monkeypatch.setattr(tasks.dispatch_pushes, "delay", lambda pk: sent.append(("dispatch", pk)))
    monkeypatch.setattr(tasks.dispatch_pushes, "apply_async", lambda args, **kw: sent.append(("dispatch", args[0])))
    return sent


def _dispatch(target: Target, capture: Any) -> int:
    with capture(execute=True):
        return pushing.push_dispatch(target_id=target.pk)


def _deliveries(feed: Any, target: Target, count: int) -> list[Delivery]:
    return [
        services.delivery_create(actor="system", feed=feed, target=target, mode="secret", scope="team", key=f"k{i}")
        for i in range(count)
    ]


def test_a_target_gets_one_batch_at_a_time_in_one_task_and_its_cap_bounds_the_calls(
    db: None,
    feed: Any,
    workspace: Target,
    recording: Any,
    no_broker: list[tuple[str, int]],
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.PUSH_BATCH_MAX = 3
    Target.objects.filter(pk=workspace.pk).update(max_concurrency=2)
    deliveries = _deliveries(feed, workspace, 5)
    assert _dispatch(workspace, django_capture_on_commit_callbacks) == 3  # PUSH_BATCH_MAX pushes in the batch
    runs = [pk for kind, pk in no_broker if kind == "run"]
    assert len(runs) == 1  # one task for the whole batch
    # While that batch is in flight, the target gets no second one.
    assert _dispatch(workspace, django_capture_on_commit_callbacks) == 0
    assert len([kind for kind, _ in no_broker if kind == "run"]) == 1
    pushing.push_run(push_id=runs[0])
    # The dispatched three as one batch, then (keeping the slot) the two left; at most the cap's calls at once.
    assert [len(b) for b in recording.batches] == [3, 2]
    assert recording.parallel == [2, 2]
    assert set(Push.objects.values_list("status", flat=True)) == {PushStatus.SUCCEEDED}
    assert set(Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }
    assert len([kind for kind, _ in no_broker if kind == "run"]) == 1  # the worker kept the slot: no more tasks


def test_one_failure_in_a_batch_fails_only_its_own_push(
    db: None,
    feed: Any,
    workspace: Target,
    recording: Any,
    no_broker: list[tuple[str, int]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    deliveries = _deliveries(feed, workspace, 3)
    recording.failing = {deliveries[1].pk}
    _dispatch(workspace, django_capture_on_commit_callbacks)
    pushing.push_run(push_id=next(pk for kind, pk in no_broker if kind == "run"))
    statuses = {p.delivery_id: p.status for p in Push.objects.all()}
    assert statuses == {
        deliveries[0].pk: PushStatus.SUCCEEDED,
        deliveries[1].pk: PushStatus.FAILED,
        deliveries[2].pk: PushStatus.SUCCEEDED,
    }
    assert Delivery.objects.get(pk=deliveries[1].pk).last_error == "refused"


def test_a_databricks_batch_reads_the_shared_scope_once_before_and_once_after(
    db: None,
    feed: Any,
    workspace: Target,
    databricks: DatabricksSimulator,
    no_broker: list[tuple[str, int]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    _deliveries(feed, workspace, 4)
    ws = databricks.workspace(0)
    ws.requests.clear()
    _dispatch(workspace, django_capture_on_commit_callbacks)
    pushing.push_run(push_id=next(pk for kind, pk in no_broker if kind == "run"))
    assert set(Push.objects.values_list("status", flat=True)) == {PushStatus.SUCCEEDED}
    calls = [path for _method, path in ws.requests]
    assert calls.count("/api/2.0/secrets/put") == 4
    assert calls.count("/api/2.0/secrets/list") == 2  # sequential pushes would list eight times


def test_a_batch_records_its_successes_together_but_drops_one_taken_over_meanwhile(
    transactional_db: None,  # the adapter writes from its own thread
    feed: Any,
    workspace: Target,
    monkeypatch: pytest.MonkeyPatch,
    no_broker: list[tuple[str, int]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    deliveries = _deliveries(feed, workspace, 3)
    stolen = deliveries[1].pk

    class TakenOverMeanwhile(RecordingAdapter):
        def push_many(self, items: list[PushItem], *, parallel: int) -> None:
            # Another worker took this push over (the reconciler reset it and it was claimed again: attempt 2).
            Push.objects.filter(delivery_id=stolen).update(attempts=2)
            super().push_many(items, parallel=parallel)

    RecordingAdapter.batches, RecordingAdapter.parallel, RecordingAdapter.failing = [], [], set()
    monkeypatch.setattr(Target, "adapter", lambda self: TakenOverMeanwhile(self))
    _dispatch(workspace, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        pushing.push_run(push_id=next(pk for kind, pk in no_broker if kind == "run"))
    rows = {p.delivery_id: p for p in Push.objects.all()}
    assert rows[deliveries[0].pk].status == rows[deliveries[2].pk].status == PushStatus.SUCCEEDED
    assert (rows[stolen].status, rows[stolen].remote_ts) == (PushStatus.RUNNING, None)  # left to its new owner
    assert Delivery.objects.get(pk=stolen).last_pushed_at is None
    delivered = Delivery.objects.filter(status=DeliveryStatus.DELIVERED).values_list("pk", flat=True)
    assert sorted(delivered) == sorted([deliveries[0].pk, deliveries[2].pk])


def test_a_token_replaced_during_a_batch_leaves_its_deliveries_stale_and_pushes_them_again(
    transactional_db: None,  # the adapter writes from its own thread
    admin: Any,
    feed: Any,
    workspace: Target,
    monkeypatch: pytest.MonkeyPatch,
    no_broker: list[tuple[str, int]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    from feeds import services as feed_services

    deliveries = _deliveries(feed, workspace, 2)

    class TokenReplacedMeanwhile(RecordingAdapter):
        def push_many(self, items: list[PushItem], *, parallel: int) -> None:
            if not self.batches:  # the first batch only
                feed_services.feed_set_token(actor=admin, feed=feed, token="replaced-during-the-batch")
            super().push_many(items, parallel=parallel)

    RecordingAdapter.batches, RecordingAdapter.parallel, RecordingAdapter.failing = [], [], set()
    monkeypatch.setattr(Target, "adapter", lambda self: TokenReplacedMeanwhile(self))
    _dispatch(workspace, django_capture_on_commit_callbacks)
    runs = [pk for kind, pk in no_broker if kind == "run"]
    with django_capture_on_commit_callbacks(execute=True):
        pushing.push_run(push_id=runs[0])
    sent = [pk for kind, pk in no_broker if kind == "run"][len(runs) :]
    assert len(sent) == 1  # the next batch, as one task
    with django_capture_on_commit_callbacks(execute=True):
        pushing.push_run(push_id=sent[0])
    feed.refresh_from_db()
    # The first delivery's push was dispatched as it was created (a batch of one; the second waited for it). That
    # batch delivered the old token: stale, and requested again, which dispatched it with the second as one batch.
    assert [len(b) for b in RecordingAdapter.batches] == [1, 2]
    for delivery in Delivery.objects.filter(pk__in=[d.pk for d in deliveries]):
        assert (delivery.status, delivery.delivered_fingerprint) == (DeliveryStatus.DELIVERED, feed.fingerprint)
