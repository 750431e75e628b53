"""Races between operators requesting pushes, dispatchers handing out slots and workers finishing pushes: no
deadlock (PostgreSQL, real threads and connections), no duplicate waiting push, and an outcome written only by
the worker that still holds the push's claim."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone

from audit.models import AuditEvent
from targets import pushing, tasks
from targets.adapters import Adapter, AdapterError, PushResult
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith(("postgresql", "postgis"))
needs_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="Row-lock deadlocks exist only on PostgreSQL (SQLite serialises writers); CI runs this with DATABASE_URL",
)


class InstantAdapter(Adapter):
    """Stands in for a platform that answers at once; counts its pushes."""

    calls: Counter[int] = Counter()
    lock = threading.Lock()

    def __init__(self, target: Target) -> None:
        self.target = target

    def push(self, delivery: Delivery, value: str, *, restart_consent: bool) -> PushResult:
        with self.lock:
            self.calls[delivery.pk] += 1
        return PushResult(remote_ts=int(time.time() * 1000))

    def verify(self, delivery: Delivery, result: PushResult) -> PushResult:
        return result


@pytest.fixture
def instant(monkeypatch: pytest.MonkeyPatch) -> type[InstantAdapter]:
    InstantAdapter.calls = Counter()
    monkeypatch.setattr(Target, "adapter", lambda self: InstantAdapter(self))
    return InstantAdapter


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Tasks are recorded instead of sent: the test drives dispatchers and workers itself."""
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.run_push, "delay", lambda pk: sent.append(("run", pk)))
    monkeypatch.setattr(tasks.dispatch_pushes, "delay", lambda pk: sent.append(("dispatch", pk)))
    monkeypatch.setattr(tasks.dispatch_pushes, "apply_async", lambda args, **kw: sent.append(("dispatch", args[0])))
    return sent


def make_targets(count: int, per_target: int, feed: Any, *, max_concurrency: int = 2) -> list[Target]:
    targets = []
    for i in range(count):
        target = Target(
            name=f"ws-{i}", kind="databricks", url=f"https://ws-{i}.example", auth_type="pat", max_concurrency=4
        )
        target.max_concurrency = max_concurrency
        target.set_credential(f"dapi-{i}")
        target.save()
        targets.append(target)
        Delivery.objects.bulk_create(
            Delivery(feed=feed, target=target, mode="secret", location=f"scope-{j}/pip-index-url")
            for j in range(per_target)
        )
    return targets


def in_threads(workers: list[Callable[[], None]], seconds: float) -> list[BaseException]:
    """Run each function in a loop in its own thread (own connection) for ``seconds``; return what they raised."""
    errors: list[BaseException] = []
    stop = time.monotonic() + seconds

    def loop(fn: Callable[[], None]) -> None:
        try:
            while time.monotonic() < stop and not errors:
                fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=loop, args=(fn,)) for fn in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    return errors


# --- deadlock ----------------------------------------------------------------------------------------------------
@needs_postgres
def test_push_all_against_busy_dispatchers_and_workers_never_deadlocks(
    transactional_db: None, admin: Any, feed: Any, instant: Any, no_broker: list[tuple[str, int]], settings: Any
) -> None:
    """Operators push all (overlapping sets) while dispatchers hold target locks and workers finish pushes and
    keep their slots: the shape that answered "deadlock detected" to a push all over 1000 deliveries."""
    settings.PUSH_BATCH_MAX = 3
    targets = make_targets(10, 40, feed, max_concurrency=3)
    delivery_ids = list(Delivery.objects.values_list("pk", flat=True))
    pushing.pushes_request(deliveries=Delivery.objects.all(), actor="system", reason="created")
    rng = random.Random(7)

    def push_all() -> None:
        chosen = rng.sample(delivery_ids, k=len(delivery_ids) // 2)
        pushing.pushes_request(deliveries=Delivery.objects.filter(pk__in=chosen), actor=admin)

    def dispatcher() -> None:
        for target in rng.sample(targets, k=len(targets)):
            pushing._dispatch(target.pk, take_one=False)

    def worker() -> None:
        ids = list(
            Push.objects.filter(status=PushStatus.PENDING, dispatched_at__isnull=False).values_list("pk", flat=True)[
                :20
            ]
        )
        for pk in rng.sample(ids, k=min(3, len(ids))):
            pushing.push_run(push_id=pk)

    errors = in_threads([push_all] * 3 + [dispatcher] * 3 + [worker] * 4, seconds=4)
    assert errors == [], f"{type(errors[0]).__name__}: {errors[0]}" if errors else ""

    waiting = Counter(
        Push.objects.filter(status=PushStatus.PENDING, started_at__isnull=True).values_list("delivery_id", flat=True)
    )
    running = Counter(Push.objects.filter(status=PushStatus.RUNNING).values_list("delivery_id", flat=True))
    assert max(waiting.values(), default=0) <= 1 and max(running.values(), default=0) <= 1
    assert Push.objects.filter(status=PushStatus.SUCCEEDED).count() > 50  # the workers did work meanwhile
    for target in targets:  # one batch of at most PUSH_BATCH_MAX in flight per target throughout, so now too
        inflight = Push.objects.filter(target=target, status__in=[PushStatus.RUNNING]).count()
        inflight += Push.objects.filter(target=target, status=PushStatus.PENDING, dispatched_at__isnull=False).count()
        assert inflight <= 3


def _deadlock() -> OperationalError:
    class DeadlockDetected(Exception):
        sqlstate = "40P01"

    exc = OperationalError("deadlock detected")
    exc.__cause__ = DeadlockDetected("deadlock detected")
    return exc


def test_a_deadlock_victim_is_retried_with_backoff_and_the_request_succeeds(
    transactional_db: None, admin: Any, feed: Any, no_broker: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database picks the request as the victim twice; the request runs again and answers normally."""
    make_targets(2, 5, feed)
    deliveries = list(Delivery.objects.all())
    real_bulk_create = Push.objects.bulk_create
    victim = {"left": 2}
    sleeps: list[float] = []

    def bulk_create(objs: Any, *args: Any, **kwargs: Any) -> Any:
        if victim["left"]:
            victim["left"] -= 1
            raise _deadlock()
        return real_bulk_create(objs, *args, **kwargs)

    monkeypatch.setattr(Push.objects, "bulk_create", bulk_create)
    monkeypatch.setattr(pushing.time, "sleep", sleeps.append)
    pushes = pushing.pushes_request(deliveries=deliveries, actor=admin)
    assert victim["left"] == 0 and len(sleeps) == 2 and all(0 < s <= 1 for s in sleeps)
    assert [p.delivery_id for p in pushes] == [d.pk for d in deliveries]
    assert Push.objects.count() == len(deliveries)  # the rolled-back attempts left nothing behind
    assert AuditEvent.objects.filter(action="delivery.push_requested").count() == 1
    # Once committed, each target got its batch: one run task per target, no dispatch task in between.
    runs = [pk for kind, pk in no_broker if kind == "run"]
    assert sorted(Push.objects.get(pk=pk).target_id for pk in runs) == sorted({d.target_id for d in deliveries})


def test_a_deadlock_inside_a_callers_transaction_is_not_retried(
    db: None, feed: Any, no_broker: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within an outer transaction the failed statement has doomed it: the caller gets the error at once."""
    make_targets(1, 2, feed)
    calls = []

    def bulk_create(objs: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise _deadlock()

    monkeypatch.setattr(Push.objects, "bulk_create", bulk_create)
    with pytest.raises(OperationalError):
        pushing.pushes_request(deliveries=Delivery.objects.all(), actor="system")
    assert calls == [1]


def test_a_large_push_all_commits_per_chunk_of_targets_and_answers_one_push_per_delivery(
    transactional_db: None,
    admin: Any,
    feed: Any,
    no_broker: list[tuple[str, int]],
    django_assert_max_num_queries: Any,
) -> None:
    make_targets(12, 50, feed)  # 600 deliveries: 3 chunks of whole targets
    deliveries = list(Delivery.objects.order_by("?"))
    # Per chunk: the request's few statements and, once committed, the dispatch of its targets' batches (SQLite
    # splits a bulk insert into more statements: 54 there, 45 on PostgreSQL), never one per delivery.
    with django_assert_max_num_queries(60):
        pushes = pushing.pushes_request(deliveries=deliveries + deliveries[:10], actor=admin)
    assert [p.delivery_id for p in pushes] == [d.pk for d in deliveries]
    assert len({p.pk for p in pushes}) == 600 == Push.objects.count()
    event = AuditEvent.objects.get(action="delivery.push_requested")
    assert event.detail["count"] == 600 and len(event.detail["pushes"]) == 500
    runs = [pk for kind, pk in no_broker if kind == "run"]
    assert sorted(Push.objects.get(pk=pk).target_id for pk in runs) == sorted(
        Target.objects.values_list("pk", flat=True)
    )
    assert Push.objects.filter(dispatched_at__isnull=False).count() == 12 * min(50, settings.PUSH_BATCH_MAX)
    again = pushing.pushes_request(deliveries=deliveries, actor=admin, restart_consent=True)
    assert [p.pk for p in again] == [p.pk for p in pushes]  # waiting pushes are reused, with consent added
    assert Push.objects.filter(restart_consent=True).count() == 600


# --- claim-guarded outcomes --------------------------------------------------------------------------------------
@pytest.fixture
def claimed(db: None, feed: Any, no_broker: list[tuple[str, int]]) -> Push:
    """A push claimed by a worker (attempt 1), as ``push_run`` holds it while the adapter works."""
    make_targets(1, 1, feed)
    push = pushing.push_request(delivery=Delivery.objects.get(), actor="system")
    pushing.push_dispatch(target_id=push.target_id)
    first = pushing._claim(push.pk)
    assert first is not None and first.attempts == 1
    return first


def take_over(push: Push) -> Push:
    """The reconciler saw no heartbeat, reset the push, and a second worker claimed it (attempt 2)."""
    Push.objects.filter(pk=push.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert pushing.pushes_recover()["stuck"] == 1
    second = pushing._claim(push.pk)
    assert second is not None and second.attempts == 2
    return second


def test_a_late_success_after_a_takeover_is_dropped(claimed: Push, feed: Any) -> None:
    second = take_over(claimed)
    events = AuditEvent.objects.filter(action="delivery.push").count()
    pushing._succeeded_many([(claimed, feed.fingerprint, PushResult(remote_ts=1))])
    row = Push.objects.get(pk=claimed.pk)
    assert (row.status, row.attempts, row.remote_ts) == (PushStatus.RUNNING, 2, None)
    delivery = Delivery.objects.get(pk=claimed.delivery_id)
    assert delivery.status == DeliveryStatus.PUSHING and delivery.last_pushed_at is None
    assert AuditEvent.objects.filter(action="delivery.push").count() == events
    # The worker that holds the claim now records its outcome as usual.
    pushing._succeeded_many([(second, feed.fingerprint, PushResult(remote_ts=2))])
    row.refresh_from_db()
    assert (row.status, row.remote_ts) == (PushStatus.SUCCEEDED, 2)
    assert Delivery.objects.get(pk=claimed.delivery_id).status == DeliveryStatus.DELIVERED


def test_a_late_failure_after_a_takeover_is_dropped(claimed: Push, django_capture_on_commit_callbacks: Any) -> None:
    take_over(claimed)
    with django_capture_on_commit_callbacks() as callbacks:
        pushing._failed(claimed, "Token refused", permanent=True, retry_after=None, detail={"projects": {"p": "x"}})
        pushing._failed(claimed, "Timed out", permanent=False, retry_after=None)
    assert callbacks == []  # no retry was scheduled for it
    row = Push.objects.get(pk=claimed.pk)
    assert (row.status, row.attempts) == (PushStatus.RUNNING, 2) and "Token refused" not in row.error
    delivery = Delivery.objects.get(pk=claimed.delivery_id)
    assert delivery.status != DeliveryStatus.FAILED and delivery.last_error == "" and delivery.state == {}
    assert row.next_attempt_at is None


def test_a_push_finished_by_its_own_worker_is_recorded_once(claimed: Push, feed: Any) -> None:
    pushing._succeeded_many([(claimed, feed.fingerprint, PushResult(remote_ts=5))])
    # A duplicate answer changes nothing.
    pushing._succeeded_many([(claimed, feed.fingerprint, PushResult(remote_ts=6))])
    row = Push.objects.get(pk=claimed.pk)
    assert (row.status, row.remote_ts, row.heartbeat_at) == (PushStatus.SUCCEEDED, 5, None)
    assert AuditEvent.objects.filter(action="delivery.push").count() == 1


def test_a_push_taken_over_while_its_adapter_runs_keeps_the_new_owners_outcome(
    transactional_db: None, feed: Any, no_broker: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first worker's adapter call outlives its claim (say its heartbeats could not reach the database): the
    push is taken over and succeeds on a second worker; the first one's late failure must not undo that."""
    make_targets(1, 1, feed)
    push = pushing.push_request(delivery=Delivery.objects.get(), actor="system")
    pushing.push_dispatch(target_id=push.target_id)

    class SlowThenFailing(InstantAdapter):
        def push(self, delivery: Delivery, value: str, *, restart_consent: bool) -> PushResult:
            # Meanwhile the push was taken over (reset by the reconciler) and pushed by another worker.
            Push.objects.filter(pk=push.pk).update(
                status=PushStatus.SUCCEEDED, attempts=2, finished_at=timezone.now(), heartbeat_at=None
            )
            raise AdapterError("read timeout", permanent=False)

    monkeypatch.setattr(Target, "adapter", lambda self: SlowThenFailing(self))
    pushing.push_run(push_id=push.pk)
    row = Push.objects.get(pk=push.pk)
    assert (row.status, row.attempts, row.error, row.next_attempt_at) == (PushStatus.SUCCEEDED, 2, "", None)
    assert Delivery.objects.get().last_error == ""


@pytest.fixture(autouse=True)
def _fresh_connections() -> Iterator[None]:
    yield
    connection.close()
