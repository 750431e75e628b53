"""Valohai deliveries pushed by a real Celery worker process, through the real broker, into the simulator."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from config.celery_app import app as celery_app
from feeds import services as feed_services
from simulators.valohai import ValohaiSimulator
from targets import pushing, services
from targets.models import Delivery, Push, PushStatus, Target
from tests.support.worker import WorkerProcess, _queue_exists, start_worker

pytestmark = pytest.mark.worker

VAR = "PRIVATE_PYPI_INDEX_URL"
# Short backoffs so retries happen within the test.
FAST = {"PUSH_BASE_BACKOFF_SECONDS": "0.2", "PUSH_MAX_BACKOFF_SECONDS": "1", "PUSH_MAX_ATTEMPTS": "12"}


@pytest.fixture
def workers(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes with short push backoffs (``celery_worker_process`` takes no environment)."""
    celery_app.conf.task_always_eager = False
    with celery_app.connection_for_write() as conn:
        if _queue_exists(conn):
            conn.default_channel.queue_purge("celery")
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        worker = start_worker(tmp_path / f"worker-{len(started)}.log", extra_env={**FAST, **env})
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.process.terminate()
            try:
                worker.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
    celery_app.conf.task_always_eager = True


@pytest.fixture
def sim() -> Iterator[ValohaiSimulator]:
    with ValohaiSimulator() as simulator:
        simulator.add_organization("acme")
        for i in range(1, 21):
            simulator.add_project("acme", f"project-{i}")
        yield simulator


def _target(admin: Any, sim: ValohaiSimulator, name: str = "vh", token: str = "vh-sim-token") -> Target:
    return services.target_create(actor=admin, kind="valohai", name=name, url=sim.url, token=token, organization="acme")


def _final(delivery: Delivery, timeout: float = 30, after: int = 0) -> Push:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        push = Push.objects.filter(delivery=delivery, pk__gt=after).order_by("-id").first()
        if push is not None and push.is_final:
            return push
        time.sleep(0.2)
    raise AssertionError(
        f"push of delivery {delivery.pk} still {push.status if push else 'missing'}: {push.error if push else ''}"
    )


def _all_delivered(sim: ValohaiSimulator, value: str) -> list[str]:
    """Names of the projects that do not hold ``value`` as a secret."""
    return [
        p["name"]
        for p in sim.dump()["projects"]
        if p["environment_variables"].get(VAR) != {"value": value, "secret": True}
    ]


def test_twenty_projects_get_the_secret_and_a_project_added_later_follows(
    workers: Callable[..., WorkerProcess], admin: Any, feed: Any, sim: ValohaiSimulator
) -> None:
    workers()
    delivery = services.delivery_create(actor=admin, feed=feed, target=_target(admin, sim), projects=["*"])
    push = _final(delivery)
    assert push.status == PushStatus.SUCCEEDED, push.error
    assert _all_delivered(sim, feed.credentialed_url()) == []
    delivery.refresh_from_db()
    assert len(delivery.state["projects"]) == 20
    sim.add_project("acme", "project-late")
    assert pushing.pushes_reconcile()["coverage"] == 1
    push = _final(delivery, after=push.pk)
    assert push.status == PushStatus.SUCCEEDED and push.reason == "coverage", push.error
    assert _all_delivered(sim, feed.credentialed_url()) == []


def test_a_bad_token_fails_while_a_429_storm_and_500s_still_end_succeeded(
    workers: Callable[..., WorkerProcess], admin: Any, feed: Any, sim: ValohaiSimulator
) -> None:
    workers()
    sim.faults.add(500, count=3, path_contains="/environment_variable/", method="POST")
    sim.faults.rate(0.25, statuses=(429, 429, 429, 503), retry_after=0, seed=7)
    with ValohaiSimulator() as other:
        other.add_organization("acme")
        other.add_project("acme", "p")
        bad = services.delivery_create(
            actor=admin, feed=feed, target=_target(admin, other, "bad", "vh-nope-123"), projects=["*"]
        )
        good = services.delivery_create(actor=admin, feed=feed, target=_target(admin, sim), projects=["*"])
        failed = _final(bad)
        assert failed.status == PushStatus.FAILED and failed.attempts == 1
        assert "The Valohai token was refused" in failed.error and "vh-nope-123" not in failed.error
    push = _final(good, timeout=40)
    assert push.status == PushStatus.SUCCEEDED, push.error
    sim.faults.clear()
    assert any(status == 429 for _, _, status in sim.faults.injected)
    assert _all_delivered(sim, feed.credentialed_url()) == []


def test_a_push_whose_worker_was_killed_is_reconciled_and_ends_with_every_project_right(
    workers: Callable[..., WorkerProcess], admin: Any, feed: Any, sim: ValohaiSimulator
) -> None:
    sim.overwrite_existing = False  # the delete-then-create path: the worker may die between the two
    first = workers()
    delivery = services.delivery_create(actor=admin, feed=feed, target=_target(admin, sim), projects=["*"])
    assert _final(delivery).status == PushStatus.SUCCEEDED
    sim.latency = 0.15
    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-2")
    feed.refresh_from_db()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(m == "DELETE" for m, _ in sim.requests) < 3:
        time.sleep(0.05)
    push = Push.objects.filter(delivery=delivery).order_by("-id").first()
    assert push is not None and push.status == PushStatus.RUNNING
    first.kill()
    assert 0 < len(_all_delivered(sim, feed.credentialed_url())) < 20  # killed half-way
    sim.latency = 0
    Push.objects.filter(pk=push.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))  # no sign of life
    workers()
    assert pushing.pushes_reconcile()["stuck"] == 1
    done = _final(delivery, after=push.pk - 1)
    assert done.pk == push.pk and done.status == PushStatus.SUCCEEDED, done.error
    assert _all_delivered(sim, feed.credentialed_url()) == []
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.delivered_fingerprint == feed.fingerprint
