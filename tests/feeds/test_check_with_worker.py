"""A feed check runs on a real Celery worker process, through the real broker, against a real private index."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User

from feeds import services
from feeds.models import CheckStatus, FeedCheck
from tests.support.pypi import PrivateIndex
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker


def wait_final(check_id: int, timeout: float = 30) -> FeedCheck:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check = FeedCheck.objects.get(pk=check_id)
        if check.is_final:
            return check
        time.sleep(0.2)
    raise AssertionError(f"check {check_id} still {check.status}")


def test_a_check_requested_through_the_api_ends_ok_on_a_real_worker(
    celery_worker_process: WorkerProcess, private_index: PrivateIndex, admin: User, api: object
) -> None:
    client = api(admin)  # type: ignore[operator]
    response = client.post(
        "/api/v1/feeds/",
        {
            "name": "private",
            "kind": "generic",
            "index_url": private_index.url,
            "username": private_index.username,
            "token": private_index.token,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    started = client.post(f"/api/v1/feeds/{response.json()['id']}/check/")
    assert started.status_code == 202
    check = wait_final(started.json()["id"])
    assert check.status == CheckStatus.OK, check.detail
    record = client.get(f"/api/v1/checks/{check.pk}/").json()
    assert record["status"] == "ok" and record["http_status"] == 200
    assert "feeds.run_feed_check" in celery_worker_process.log()


def test_a_check_left_pending_when_the_worker_dies_is_requeued_and_finishes(
    celery_worker_process: WorkerProcess, private_index: PrivateIndex, admin: User, tmp_path: object
) -> None:
    from django.utils import timezone

    celery_worker_process.kill()
    feed = services.feed_create(
        actor=admin,
        name="orphan",
        kind="generic",
        index_url=private_index.url,
        username=private_index.username,
        token=private_index.token,
    )
    check = FeedCheck.objects.create(feed=feed, created_at=timezone.now() - services.REQUEUE_PENDING_AFTER * 2)
    from tests.support.worker import start_worker

    worker = start_worker(tmp_path / "worker2.log")  # type: ignore[operator]
    try:
        assert services.feed_checks_reconcile()["requeued"] >= 1
        assert wait_final(check.pk).status == CheckStatus.OK
    finally:
        worker.process.terminate()
        worker.process.wait(timeout=15)
