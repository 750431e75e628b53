"""Recovery: heartbeats keep a live push from being run twice and let a dead one be taken over; database errors
around the claim and the outcome never strand a push; a dispatch the broker lost is sent again; the keep-the-slot
loop and each push are bounded; coverage asks each target once. Ends with a chaos run on a real worker: platform
faults, the worker SIGKILLed twice and the broker emptied, and every delivery still ends delivered."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.utils import timezone

from audit.models import AuditEvent
from config.celery_app import app as celery_app
from config.settings import base as base_settings
from simulators.databricks import DatabricksSimulator
from targets import pushing, services, tasks
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target
from tests.support.worker import WorkerProcess, start_worker

ON_POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith(("postgresql", "postgis"))


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Tasks are recorded instead of run: the test runs the pushes itself, in the thread it chooses."""
    sent: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks.run_push, "delay", lambda pk: sent.append(("run", pk)))
    monkeypatch.setattr(tasks.dispatch_pushes, "delay", lambda pk: sent.append(("dispatch", pk)))
    monkeypatch.setattr(tasks.dispatch_pushes, "apply_async", lambda args, **kw: sent.append(("dispatch", args[0])))
    return sent


@pytest.fixture
def no_db_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Database retries happen at once; the delays they would have waited are recorded."""
    waits: list[float] = []
    real = getattr(pushing, "backoff", None)

    def record(attempt: int, **kwargs: Any) -> float:
        waits.append(real(attempt, **kwargs))
        return 0.0

    monkeypatch.setattr(pushing, "backoff", record, raising=False)
    return waits


@pytest.fixture(autouse=True)
def _close_connection() -> Iterator[None]:
    yield
    connection.close()


def dispatched(delivery: Delivery) -> Push:
    """The delivery's newest push, dispatched (its run message recorded, not sent)."""
    push = Push.objects.filter(delivery=delivery).order_by("-id").first()
    assert push is not None
    pushing.push_dispatch(target_id=delivery.target_id)
    push.refresh_from_db()
    assert push.dispatched_at is not None and push.status == PushStatus.PENDING
    return push


def in_background(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            out.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def puts(sim: DatabricksSimulator) -> int:
    return sum(1 for m, p in sim.workspace(0).requests if p.endswith("/secrets/put"))


@pytest.fixture
def delivery(
    transactional_db: None, admin: Any, feed: Any, workspace: Target, no_broker: list[tuple[str, int]]
) -> Delivery:
    return services.delivery_create(actor=admin, feed=feed, target=workspace, mode="workspace_default")


# --- heartbeats ----------------------------------------------------------------------------------------------
def test_a_long_push_that_heartbeats_is_never_taken_over_nor_run_twice(
    delivery: Delivery, databricks: DatabricksSimulator, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The push takes ~3 s, far past "stuck after 1 s"; the reconciler runs all along and leaves it alone."""
    settings.PUSH_HEARTBEAT_SECONDS = 0.2
    monkeypatch.setattr(pushing, "PUSH_STUCK_AFTER", timedelta(seconds=1))
    databricks.set_latency(0.6)
    push = dispatched(delivery)
    thread, out = in_background(lambda: pushing.push_run(push_id=push.pk))
    took_over = []
    while thread.is_alive():
        took_over.append(pushing.pushes_recover()["stuck"])
        time.sleep(0.2)
    thread.join()
    assert not isinstance(out[0], BaseException), out
    push.refresh_from_db()
    assert (push.status, push.attempts) == (PushStatus.SUCCEEDED, 1), push.error
    assert len(took_over) >= 10 and set(took_over) == {0}
    assert puts(databricks) == 1


def test_a_push_whose_worker_stopped_heartbeating_is_taken_over_and_runs_again(
    delivery: Delivery, feed: Any, no_broker: list[tuple[str, int]]
) -> None:
    push = dispatched(delivery)
    assert pushing._claim(push.pk) is not None  # a worker claimed it, then died
    Push.objects.filter(pk=push.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=46))
    result = pushing.pushes_recover()
    assert (result["stuck"], result["dispatched"]) == (1, 1)
    push.refresh_from_db()
    assert push.status == PushStatus.PENDING and push.dispatched_at is not None and push.heartbeat_at is None
    assert no_broker[-1] == ("run", push.pk)
    pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    assert (push.status, push.attempts) == (PushStatus.SUCCEEDED, 2)


def test_a_push_heartbeating_within_the_window_is_left_alone(delivery: Delivery) -> None:
    push = dispatched(delivery)
    pushing._claim(push.pk)
    Push.objects.filter(pk=push.pk).update(
        started_at=timezone.now() - timedelta(hours=2), heartbeat_at=timezone.now() - timedelta(seconds=30)
    )
    assert pushing.pushes_recover()["stuck"] == 0  # started two hours ago, but alive
    assert Push.objects.get(pk=push.pk).status == PushStatus.RUNNING


# --- database errors -----------------------------------------------------------------------------------------
class FailingSql:
    """An execute wrapper that raises OperationalError for ``times`` statements matching ``match``."""

    def __init__(self, match: Callable[[str, Any], bool], times: int) -> None:
        self.match, self.left, self.raised = match, times, 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if self.left and self.match(sql, params):
            self.left -= 1
            self.raised += 1
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


def claim_sql(sql: str, params: Any) -> bool:
    return sql.startswith('UPDATE "targets_push"') and '"started_at"' in sql and "running" in list(params or ())


def outcome_sql(status: str) -> Callable[[str, Any], bool]:
    def match(sql: str, params: Any) -> bool:
        # A plain update (a failure) or a batch's ``WITH v (...) AS (VALUES ...) UPDATE`` (successes).
        return 'UPDATE "targets_push"' in sql and status in list(params or ())

    return match


def test_a_database_error_in_the_claim_is_retried(delivery: Delivery, no_db_backoff: list[float]) -> None:
    push = dispatched(delivery)
    failing = FailingSql(claim_sql, times=2)
    with connection.execute_wrapper(failing):
        pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    assert failing.raised == 2 and len(no_db_backoff) == 2
    assert (push.status, push.attempts) == (PushStatus.SUCCEEDED, 1)


def test_a_claim_the_database_keeps_refusing_strands_nothing(
    delivery: Delivery, no_db_backoff: list[float], no_broker: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    push = dispatched(delivery)
    with connection.execute_wrapper(FailingSql(claim_sql, times=100)):
        assert pushing.push_run(push_id=push.pk) is None  # no exception reaches the worker thread
    push.refresh_from_db()
    assert push.status == PushStatus.PENDING and push.dispatched_at is not None
    monkeypatch.setattr(pushing, "DISPATCH_LOST_AFTER", timedelta(0))
    assert pushing.pushes_recover()["lost"] == 1
    assert no_broker[-1] == ("run", push.pk)
    pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    assert push.status == PushStatus.SUCCEEDED


def test_a_database_error_writing_the_outcome_is_retried_on_a_fresh_connection(
    delivery: Delivery, no_db_backoff: list[float]
) -> None:
    push = dispatched(delivery)
    failing = FailingSql(outcome_sql(PushStatus.SUCCEEDED), times=3)
    with connection.execute_wrapper(failing):
        pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    assert failing.raised == 3 and all(0.25 <= w <= 8 for w in no_db_backoff)
    assert (push.status, push.attempts) == (PushStatus.SUCCEEDED, 1)
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED
    assert AuditEvent.objects.filter(action="delivery.push").count() == 1


def test_an_outcome_that_cannot_be_written_is_taken_over_once_its_heartbeat_expires(
    delivery: Delivery, no_db_backoff: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    push = dispatched(delivery)
    with connection.execute_wrapper(FailingSql(outcome_sql(PushStatus.SUCCEEDED), times=100)):
        pushing.push_run(push_id=push.pk)  # returns: the worker thread survives
    push.refresh_from_db()
    assert push.status == PushStatus.RUNNING and len(no_db_backoff) == django_settings.PUSH_DB_ATTEMPTS - 1
    monkeypatch.setattr(pushing, "PUSH_STUCK_AFTER", timedelta(0))
    assert pushing.pushes_recover()["stuck"] == 1
    pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    assert (push.status, push.attempts) == (PushStatus.SUCCEEDED, 2)


@pytest.mark.skipif(not ON_POSTGRES, reason="Terminating a server connection needs PostgreSQL")
def test_a_connection_the_server_drops_mid_push_is_replaced_and_the_outcome_recorded(
    delivery: Delivery, databricks: DatabricksSimulator, settings: Any
) -> None:
    settings.PUSH_HEARTBEAT_SECONDS = 0.2
    databricks.set_latency(0.4)
    push = dispatched(delivery)
    thread, out = in_background(lambda: pushing.push_run(push_id=push.pk))
    time.sleep(0.5)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1  # the worker thread's connection
    thread.join(timeout=30)
    assert not isinstance(out[0], BaseException), out
    push.refresh_from_db()
    assert (push.status, push.attempts) == (PushStatus.SUCCEEDED, 1), push.error


# --- broker --------------------------------------------------------------------------------------------------
def test_a_dispatch_the_broker_lost_is_sent_again_within_a_minute(
    delivery: Delivery, no_broker: list[tuple[str, int]]
) -> None:
    push = dispatched(delivery)  # its message is lost: a broker restarted empty
    assert pushing.pushes_recover()["lost"] == 0
    Push.objects.filter(pk=push.pk).update(dispatched_at=timezone.now() - timedelta(seconds=61))
    result = pushing.pushes_recover()
    assert (result["lost"], result["dispatched"]) == (1, 1)
    assert no_broker.count(("run", push.pk)) == 2


def test_default_timings_recover_a_dead_worker_or_an_emptied_broker_within_two_minutes() -> None:
    beat = base_settings.CELERY_BEAT_SCHEDULE
    every = beat["reconcile-pushes"]["schedule"]
    assert beat["reconcile-pushes"]["task"] == "targets.reconcile_pushes" and 15 <= every <= 30
    assert beat["cover-pushes"] == {"task": "targets.cover_pushes", "schedule": 300}
    assert base_settings.PUSH_HEARTBEAT_SECONDS == 10 and base_settings.PUSH_STUCK_AFTER_SECONDS == 45
    assert base_settings.PUSH_DISPATCH_LOST_AFTER_SECONDS == 60
    # Worst cases: the last heartbeat just before a kill, or a dispatch just before the broker emptied, plus one
    # full reconcile period; then a few seconds to dispatch and run.
    assert base_settings.PUSH_STUCK_AFTER_SECONDS + every <= 60
    assert base_settings.PUSH_DISPATCH_LOST_AFTER_SECONDS + every <= 90
    assert base_settings.PUSH_HEARTBEAT_SECONDS * 3 < base_settings.PUSH_STUCK_AFTER_SECONDS
    assert base_settings.PUSH_KEEP_SLOT_MAX == 50 and base_settings.PUSH_DEADLINE_SECONDS == 300


# --- bounds --------------------------------------------------------------------------------------------------
@pytest.fixture
def five_waiting(
    db: None, admin: Any, feed: Any, workspace: Target, no_broker: list[tuple[str, int]], settings: Any
) -> list[Push]:
    """Five pushes of one target, batches of one push each."""
    settings.PUSH_BATCH_MAX = 1
    Target.objects.filter(pk=workspace.pk).update(max_concurrency=1)
    for i in range(5):
        services.delivery_create(actor=admin, feed=feed, target=workspace, mode="secret", scope=f"s{i}", key="k")
    return list(Push.objects.order_by("id"))


def test_the_keep_the_slot_loop_stops_after_its_count_and_hands_the_slot_to_the_broker(
    five_waiting: list[Push], no_broker: list[tuple[str, int]], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PUSH_KEEP_SLOT_MAX = 2
    first = five_waiting[0]
    with django_capture_on_commit_callbacks(execute=True):
        pushing.push_dispatch(target_id=first.target_id)
    assert no_broker == [("run", first.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        pushing.push_run(push_id=first.pk)
    states = [Push.objects.get(pk=p.pk) for p in five_waiting]
    assert [p.status for p in states[:2]] == [PushStatus.SUCCEEDED] * 2
    assert states[2].status == PushStatus.PENDING and states[2].dispatched_at is not None
    assert no_broker == [("run", first.pk), ("run", states[2].pk)]  # re-enqueued through the broker
    assert all(p.dispatched_at is None for p in states[3:])  # one batch in flight at a time


def test_the_keep_the_slot_loop_stops_after_its_time(
    five_waiting: list[Push], no_broker: list[tuple[str, int]], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PUSH_KEEP_SLOT_SECONDS = 0
    first = five_waiting[0]
    with django_capture_on_commit_callbacks(execute=True):
        pushing.push_dispatch(target_id=first.target_id)
        pushing.push_run(push_id=first.pk)
    assert Push.objects.filter(status=PushStatus.SUCCEEDED).count() == 1
    assert no_broker == [("run", first.pk), ("run", five_waiting[1].pk)]


def test_a_push_past_its_deadline_is_abandoned_and_retried(
    delivery: Delivery, databricks: DatabricksSimulator, settings: Any, no_broker: list[tuple[str, int]]
) -> None:
    """The platform answers each call after 2 s: the worker thread gives up after 0.5 s and the push retries."""
    settings.PUSH_DEADLINE_SECONDS = 0.5
    settings.PUSH_HEARTBEAT_SECONDS = 0.1
    databricks.set_latency(2)
    push = dispatched(delivery)
    started = time.monotonic()
    pushing.push_run(push_id=push.pk)
    assert time.monotonic() - started < 1.5
    push.refresh_from_db()
    assert (push.status, push.attempts, push.dispatched_at) == (PushStatus.PENDING, 1, None)
    assert "did not finish within 0.5 s" in push.error and push.next_attempt_at is not None
    assert no_broker[-1][0] == "dispatch"  # the retry is scheduled
    databricks.set_latency(0)
    settings.PUSH_DEADLINE_SECONDS = 30
    Push.objects.filter(pk=push.pk).update(next_attempt_at=None)
    pushing.push_run(push_id=dispatched(delivery).pk)  # a fresh helper thread; the abandoned one is retired
    push.refresh_from_db()
    assert (push.status, push.attempts) == (PushStatus.SUCCEEDED, 2)


# --- coverage ------------------------------------------------------------------------------------------------
def test_coverage_asks_each_target_once_and_recovery_asks_no_platform(
    db: None,
    admin: Any,
    feed: Any,
    workspace: Target,
    databricks: DatabricksSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = services.target_create(
        actor=admin, kind="databricks", name="ws-dev", url=databricks.urls[1], auth_type="pat", token="dapi-sim-token"
    )
    for target in (workspace, other):
        for i in range(3):
            services.delivery_create(actor=admin, feed=feed, target=target, mode="secret", scope=f"s{i}", key="k")
    for push in Push.objects.order_by("id"):
        pushing.push_dispatch(target_id=push.target_id)
        pushing.push_run(push_id=push.pk)
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 6

    cls = type(workspace.adapter())
    asked: list[tuple[int, list[int]]] = []
    single: list[int] = []
    real_needs_push = cls.needs_push

    def deliveries_needing_push(self: Any, deliveries: list[Delivery]) -> list[int]:
        asked.append((self.target.pk, sorted(d.pk for d in deliveries)))
        return [d.pk for d in deliveries if d.target_id == workspace.pk][:1]

    def needs_push(self: Any, delivery: Delivery) -> bool:
        single.append(delivery.pk)
        return bool(real_needs_push(self, delivery))

    monkeypatch.setattr(cls, "deliveries_needing_push", deliveries_needing_push)
    monkeypatch.setattr(cls, "needs_push", needs_push)
    with monkeypatch.context() as m:
        m.setattr(Target, "adapter", lambda self: pytest.fail("recovery asked a platform"))
        assert pushing.pushes_recover()["requested"] == 0
    assert pushing.pushes_cover() == 2  # two cover_target tasks (run inline here)
    assert sorted(t for t, _ in asked) == sorted([workspace.pk, other.pk]) and single == []
    assert all(len(ids) == 3 for _, ids in asked)
    coverage = Push.objects.filter(reason="coverage")
    assert coverage.count() == 1 and coverage.get().target_id == workspace.pk


def test_the_default_coverage_question_asks_needs_push_of_each_delivery(
    db: None, admin: Any, feed: Any, workspace: Target
) -> None:
    from targets.adapters.base import Adapter

    deliveries = [
        services.delivery_create(actor=admin, feed=feed, target=workspace, mode="secret", scope=f"s{i}", key="k")
        for i in range(3)
    ]

    class Probe(Adapter):
        def needs_push(self, delivery: Delivery) -> bool:
            return delivery.pk == deliveries[1].pk

    assert Probe(workspace).deliveries_needing_push(deliveries) == [deliveries[1].pk]


# --- chaos on a real worker ----------------------------------------------------------------------------------
CHAOS_DEFAULTS = os.environ.get("FEEDKEEPER_CHAOS_DEFAULTS") == "1"
# Scaled-down timings keep the run short; FEEDKEEPER_CHAOS_DEFAULTS=1 runs it with the shipped defaults instead
# (about two minutes: the point is that it recovers within them).
SCALED = {
    "PUSH_BASE_BACKOFF_SECONDS": "0.2",
    "PUSH_MAX_BACKOFF_SECONDS": "1",
    "PUSH_MAX_ATTEMPTS": "40",
    "PUSH_HEARTBEAT_SECONDS": "0.3",
}
DEFAULTS = {"PUSH_BASE_BACKOFF_SECONDS": "1", "PUSH_MAX_BACKOFF_SECONDS": "10", "PUSH_MAX_ATTEMPTS": "40"}


@pytest.fixture
def chaos_workers(transactional_db: None, tmp_path: Path) -> Iterator[Callable[[], WorkerProcess]]:
    celery_app.conf.task_always_eager = False
    purge_broker()
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        env = DEFAULTS if CHAOS_DEFAULTS else SCALED
        worker = start_worker(tmp_path / f"worker-{len(started)}.log", concurrency=8, extra_env=env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.kill()
    celery_app.conf.task_always_eager = True


def purge_broker() -> None:
    """Empty the broker as a restart without persistence does: queued and unacknowledged messages are gone."""
    if django_settings.CELERY_BROKER_URL.startswith("redis"):
        import redis

        client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
        client.flushdb()
        client.close()
        return
    with celery_app.connection_for_write() as conn:
        try:
            conn.default_channel.queue_purge("celery")
        except Exception:  # noqa: BLE001 - no queue yet
            pass


@pytest.mark.worker
def test_chaos_faults_two_kills_and_an_emptied_broker_still_end_with_everything_delivered(
    chaos_workers: Callable[[], WorkerProcess],
    admin: Any,
    feed: Any,
    workspace: Target,
    databricks: DatabricksSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """12 deliveries on one workspace; 30% of platform calls fail (429/500/503); the worker is SIGKILLed twice
    mid-push and the broker loses everything in between. The reconciler (run here at beat's rate) recovers all."""
    if not CHAOS_DEFAULTS:
        monkeypatch.setattr(pushing, "PUSH_STUCK_AFTER", timedelta(seconds=1.5))
        monkeypatch.setattr(pushing, "DISPATCH_LOST_AFTER", timedelta(seconds=2))
    reconcile_every = django_settings.PUSH_RECONCILE_EVERY_SECONDS if CHAOS_DEFAULTS else 0.5
    Target.objects.filter(pk=workspace.pk).update(max_concurrency=4)
    ws = databricks.workspace(0)
    ws.latency = 0.15
    ws.faults.rate(0.3, statuses=(429, 500, 503), retry_after=0, seed=11)
    stop = threading.Event()

    def beat() -> None:  # what celery beat does, at the reconcile rate
        try:
            while not stop.wait(reconcile_every):
                pushing.pushes_recover()
        finally:
            connection.close()

    def wait_for_a_running_push(since: Any) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if Push.objects.filter(status=PushStatus.RUNNING, started_at__gt=since).exists():
                return
            time.sleep(0.05)
        raise AssertionError("no push started")

    since = timezone.now()
    worker = chaos_workers()
    deliveries = [
        services.delivery_create(actor=admin, feed=feed, target=workspace, mode="secret", scope=f"team-{i}", key="k")
        for i in range(12)
    ]
    started = time.monotonic()
    beater = threading.Thread(target=beat)
    beater.start()
    try:
        wait_for_a_running_push(since)
        worker.kill()  # mid-push: no ack, no outcome
        since = timezone.now()
        worker = chaos_workers()
        wait_for_a_running_push(since)
        purge_broker()  # the broker restarts empty while pushes are queued and running
        worker.kill()
        chaos_workers()
        deadline = time.monotonic() + (150 if CHAOS_DEFAULTS else 40)
        while time.monotonic() < deadline:
            if Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == len(deliveries):
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        beater.join()
    fired = ws.faults.describe()["rate"]["fired"]
    ws.faults.clear()
    states = sorted(Delivery.objects.values_list("status", flat=True))
    assert states == [DeliveryStatus.DELIVERED] * len(deliveries), f"after {elapsed:.0f} s: {states}"
    assert elapsed < (120 if CHAOS_DEFAULTS else 40)
    assert fired > 5 and Push.objects.filter(attempts__gt=1).exists()
    assert not Push.objects.filter(status=PushStatus.FAILED).exists()
    for delivery in deliveries:
        delivery.refresh_from_db()
        assert delivery.delivered_fingerprint == feed.fingerprint
