"""Two real worker processes, as ``make run`` starts them on two cores: a push all while the creation pushes still
run, a token replaced meanwhile, and a second push all. Every place ends with the newest value, no push runs twice,
and no target gets more puts at once than its cap."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.celery_app import app
from feeds import services as feed_services
from simulators.databricks import DatabricksSimulator
from simulators.databricks.server import DatabricksRequestHandler
from targets import services
from targets.models import Delivery, DeliveryStatus, Push, PushStatus
from tests.support.worker import WorkerProcess, start_worker

pytestmark = pytest.mark.worker

WORKSPACES, PER_WORKSPACE, CAP = 3, 12, 2


class PutsInFlight:
    """Counts ``secrets/put`` calls being served per workspace and keeps the most seen at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: Counter[int] = Counter()
        self.most: Counter[int] = Counter()

    def wrap(self, dispatch: Any) -> Any:
        def counted(handler: DatabricksRequestHandler) -> None:
            if not (handler.command == "POST" and handler.path.startswith("/api/2.0/secrets/put")):
                dispatch(handler)
                return
            ws = handler.ws.index
            with self.lock:
                self.now[ws] += 1
                self.most[ws] = max(self.most[ws], self.now[ws])
            try:
                dispatch(handler)
            finally:
                with self.lock:
                    self.now[ws] -= 1

        return counted


@pytest.fixture
def puts(monkeypatch: pytest.MonkeyPatch) -> PutsInFlight:
    counter = PutsInFlight()
    monkeypatch.setattr(DatabricksRequestHandler, "_dispatch", counter.wrap(DatabricksRequestHandler._dispatch))
    return counter


@pytest.fixture
def workers(transactional_db: None, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    app.conf.task_always_eager = False
    started = [start_worker(tmp_path / f"worker-{i}.log", concurrency=4) for i in range(2)]
    try:
        yield started
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.process.terminate()
                try:
                    worker.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
        app.conf.task_always_eager = True


def test_push_all_during_pushes_and_a_token_change_end_right_on_two_workers_within_the_cap(
    workers: list[WorkerProcess], puts: PutsInFlight, admin: Any
) -> None:
    with DatabricksSimulator(workspaces=WORKSPACES, latency=0.05) as sim:
        feed = feed_services.feed_create(
            actor=admin,
            name="shared",
            kind="generic",
            index_url="https://pkgs.example.com/simple/",
            username="build",
            token="feed-token-one",
        )
        for w in range(WORKSPACES):
            target = services.target_create(
                actor=admin, kind="databricks", name=f"ws-{w}", url=sim.urls[w], auth_type="pat",
                token="dapi-sim-token", max_concurrency=CAP,
            )  # fmt: skip
            for j in range(PER_WORKSPACE):
                # Each creation requests its push at once: the workers are busy from here on.
                services.delivery_create(
                    actor=admin, feed=feed, target=target, mode="secret", scope=f"team-{j}", key="pip-index-url"
                )
        services.feed_push_all(actor=admin, feed=feed)  # while the creation pushes run
        feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-two")
        feed.refresh_from_db()
        services.feed_push_all(actor=admin, feed=feed)
        feed.refresh_from_db()

        deadline = time.monotonic() + 120
        deliveries = Delivery.objects.filter(feed=feed)
        while time.monotonic() < deadline:
            done = deliveries.filter(status=DeliveryStatus.DELIVERED, delivered_fingerprint=feed.fingerprint).count()
            open_pushes = Push.objects.filter(status__in=[PushStatus.PENDING, PushStatus.RUNNING]).exists()
            if done == WORKSPACES * PER_WORKSPACE and not open_pushes:
                break
            time.sleep(0.3)
        else:
            states = Counter(deliveries.values_list("status", flat=True))
            raise AssertionError(f"not all delivered with the new token: {states}\n{workers[0].log()[-3000:]}")

        expected = feed.credentialed_url()
        for w in range(WORKSPACES):
            for j in range(PER_WORKSPACE):
                assert sim.workspace(w).secret_value(f"team-{j}", "pip-index-url") == expected
    assert set(Push.objects.values_list("status", flat=True)) == {PushStatus.SUCCEEDED}
    assert not Push.objects.filter(attempts__gt=1).exists()  # no platform fault here: nothing ran twice
    # The cap held, and was used: puts of one workspace did run side by side.
    assert puts.most and max(puts.most.values()) == CAP, dict(puts.most)
    assert all("Traceback" not in worker.log() for worker in workers)
    assert "feed-token-two" not in "".join(worker.log() for worker in workers)
