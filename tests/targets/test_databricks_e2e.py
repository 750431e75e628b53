"""End to end on a real worker: feed on a real private index, a simulated workspace, pushes through the broker,
faults that must end in the right state with nothing lost, and pip installing with what landed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feeds import services as feed_services
from simulators.databricks import DatabricksSimulator
from targets import pushing, services
from targets.models import Delivery, DeliveryStatus, Push, PushStatus
from tests.support.leaks import pip_download
from tests.support.pypi import PrivateIndex
from tests.support.worker import WorkerProcess, start_worker

pytestmark = pytest.mark.worker

FAST_RETRY = {"PUSH_BASE_BACKOFF_SECONDS": "0.2", "PUSH_MAX_BACKOFF_SECONDS": "1"}
SCOPE, KEY = "databricks-package-management", "pip-index-url"


@pytest.fixture
def worker(transactional_db: None, tmp_path: Path) -> Iterator[WorkerProcess]:
    from config.celery_app import app

    app.conf.task_always_eager = False
    proc = start_worker(tmp_path / "worker.log", extra_env=FAST_RETRY)
    try:
        yield proc
    finally:
        if proc.process.poll() is None:
            proc.process.terminate()
            proc.process.wait(timeout=15)
        app.conf.task_always_eager = True


@pytest.fixture
def sim() -> Iterator[DatabricksSimulator]:
    with DatabricksSimulator(workspaces=1) as s:
        yield s


@pytest.fixture
def index_feed(admin: Any, private_index: PrivateIndex) -> Any:
    return feed_services.feed_create(
        actor=admin,
        name="private",
        kind="generic",
        index_url=private_index.url,
        username=private_index.username,
        token=private_index.token,
    )


def wait_push(push_id: int, timeout: float = 40) -> Push:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        push = Push.objects.get(pk=push_id)
        if push.is_final:
            return push
        time.sleep(0.2)
    raise AssertionError(f"push {push_id} still {push.status}: {push.error}")


def make_delivery(admin: Any, feed: Any, sim: DatabricksSimulator, token: str = "dapi-sim-token") -> Delivery:
    target = services.target_create(
        actor=admin, kind="databricks", name=f"ws-{token[-4:]}", url=sim.urls[0], auth_type="pat", token=token
    )
    return services.delivery_create(actor=admin, feed=feed, target=target, mode="workspace_default")


def test_a_push_through_the_api_lands_and_pip_installs_with_it(
    worker: WorkerProcess,
    sim: DatabricksSimulator,
    index_feed: Any,
    private_index: PrivateIndex,
    admin: Any,
    api: Any,
    tmp_path: Path,
) -> None:
    client = api(admin)
    target = client.post(
        "/api/v1/targets/",
        {"name": "ws", "kind": "databricks", "url": sim.urls[0], "auth_type": "pat", "token": "dapi-sim-token"},
        format="json",
    )
    assert target.status_code == 201, target.content
    delivery = client.post(
        "/api/v1/deliveries/",
        {"feed": index_feed.pk, "target": target.json()["id"], "mode": "workspace_default"},
        format="json",
    )
    assert delivery.status_code == 201, delivery.content
    started = client.post(f"/api/v1/deliveries/{delivery.json()['id']}/push/", {}, format="json")
    assert started.status_code == 202
    assert wait_push(started.json()["id"]).status == PushStatus.SUCCEEDED
    record = client.get(f"/api/v1/deliveries/{delivery.json()['id']}/").json()
    assert record["status"] == "delivered" and record["delivered_fingerprint"] == index_feed.fingerprint

    url = sim.workspace(0).secret_value(SCOPE, KEY)
    assert url == index_feed.credentialed_url()
    out = pip_download(url, private_index.package, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert private_index.token not in worker.log()


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "count": 6, "path_contains": "/secrets/put", "retry_after": 0},
        {"status": 500, "count": 2, "path_contains": "/secrets/put"},
        {"status": 503, "count": 3, "path_contains": "/secrets/list"},
        {"status": "timeout", "count": 1, "path_contains": "/secrets/put", "hang": 7},
    ],
    ids=["429-storm", "500s", "503s", "timeout"],
)
def test_transient_faults_end_delivered_after_retries(
    worker: WorkerProcess, sim: DatabricksSimulator, index_feed: Any, admin: Any, fault: dict[str, Any]
) -> None:
    sim.workspace(0).faults.add(**fault)
    delivery = make_delivery(admin, index_feed, sim)
    push = wait_push(Push.objects.get(delivery=delivery).pk)
    assert push.status == PushStatus.SUCCEEDED, push.error
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert sim.workspace(0).secret_value(SCOPE, KEY) == index_feed.credentialed_url()


def test_a_bad_token_fails_at_once_with_a_clear_message(
    worker: WorkerProcess, sim: DatabricksSimulator, index_feed: Any, admin: Any
) -> None:
    delivery = make_delivery(admin, index_feed, sim, token="dapi-revoked-0000")
    push = wait_push(Push.objects.get(delivery=delivery).pk)
    assert (push.status, push.attempts) == (PushStatus.FAILED, 1)
    assert "Invalid access token" in push.error and "dapi-revoked-0000" not in push.error
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error == push.error


def test_a_push_whose_worker_is_killed_mid_push_is_recovered_by_the_reconciler(
    worker: WorkerProcess,
    sim: DatabricksSimulator,
    index_feed: Any,
    admin: Any,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim.workspace(0).faults.add(status="timeout", count=1, path_contains="/secrets/put", hang=30)
    delivery = make_delivery(admin, index_feed, sim)
    push = Push.objects.get(delivery=delivery)
    deadline = time.monotonic() + 20
    while Push.objects.get(pk=push.pk).status != PushStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Push.objects.get(pk=push.pk).status == PushStatus.RUNNING
    worker.kill()  # the machine dies mid-push: no ack, no clean-up

    monkeypatch.setattr(pushing, "PUSH_STUCK_AFTER", pushing.timedelta(seconds=0))
    second = start_worker(tmp_path / "worker2.log", extra_env=FAST_RETRY)
    try:
        result = pushing.pushes_reconcile()
        assert result["stuck"] == 1
        final = wait_push(push.pk)
    finally:
        second.process.terminate()
        second.process.wait(timeout=15)
    assert final.status == PushStatus.SUCCEEDED and final.attempts == 2
    assert sim.workspace(0).secret_value(SCOPE, KEY) == index_feed.credentialed_url()


def test_a_new_feed_token_marks_deliveries_stale_and_pushes_the_new_one(
    worker: WorkerProcess, sim: DatabricksSimulator, index_feed: Any, admin: Any
) -> None:
    delivery = make_delivery(admin, index_feed, sim)
    assert wait_push(Push.objects.get(delivery=delivery).pk).status == PushStatus.SUCCEEDED
    first_ts = sim.workspace(0).secret_timestamp(SCOPE, KEY)

    feed_services.feed_set_token(actor=admin, feed=index_feed, token="rotated-token-2")
    newest = Push.objects.filter(delivery=delivery).order_by("-id").first()
    assert newest is not None and newest.reason == "stale"
    assert wait_push(newest.pk).status == PushStatus.SUCCEEDED
    delivery.refresh_from_db()
    index_feed.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.delivered_fingerprint == index_feed.fingerprint
    assert "rotated-token-2" in sim.workspace(0).secret_value(SCOPE, KEY)
    assert sim.workspace(0).secret_timestamp(SCOPE, KEY) >= first_ts  # one-second precision: may be the same second
