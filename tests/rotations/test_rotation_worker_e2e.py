"""Rotations under real workers (the broker, worker processes, the JFrog and GitHub simulators): a worker killed
between steps is taken over without minting twice; a pasted token rotated as an emergency revokes the leaked one by
value at once; a pasted token the feed refuses fails the test step with nothing pushed; and no token any rotation
minted or took appears in a record, a page, an API answer or a worker's log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from config.celery_app import app as celery_app
from feeds.models import Feed, TokenVersion
from rotations import services
from rotations.models import Phase, Rotation, Status, StepStatus
from simulators.github import GitHubSimulator
from simulators.jfrog import JFrogSimulator
from targets import services as target_services
from targets.models import Delivery, DeliveryStatus
from tests.rotations.test_rotation_e2e import _jfrog_feed, _wait
from tests.support.leaks import database_dump
from tests.support.worker import WorkerProcess, start_worker

pytestmark = pytest.mark.worker


@pytest.fixture
def jfrog() -> Iterator[JFrogSimulator]:
    with JFrogSimulator(latency=0.005) as sim:
        yield sim


@pytest.fixture
def github() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(latency=0.005) as sim:
        yield sim


@pytest.fixture
def workers(transactional_db: None, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes (a rotation polls its deliveries every second); all are stopped at the end."""
    celery_app.conf.task_always_eager = False
    started: list[WorkerProcess] = []

    def start(name: str, poll: str = "1") -> WorkerProcess:
        proc = start_worker(tmp_path / f"{name}.log", extra_env={"ROTATION_POLL_SECONDS": poll})
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            if proc.process.poll() is None:
                proc.process.terminate()
                proc.process.wait(timeout=15)
        celery_app.conf.task_always_eager = True


def _deliver(admin: Any, feed: Feed, github: GitHubSimulator, repos: int = 3) -> list[Delivery]:
    target = target_services.target_create(
        actor=admin, kind="github", name="gh", url=github.api_url, token="ghp-sim-token", organization="acme"
    )
    deliveries = []
    for n in range(repos):
        github.add_repo("acme", f"app-{n}")
        deliveries.append(
            target_services.delivery_create(
                actor=admin, feed=feed, target=target, mode="actions_repo_secret", repositories=[f"app-{n}"]
            )
        )
    _wait(
        lambda: set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED},
        60,
        "the first pushes",
    )
    return deliveries


def test_a_worker_killed_between_steps_is_taken_over_and_nothing_is_minted_twice(
    workers: Callable[..., WorkerProcess], admin: Any, jfrog: JFrogSimulator, github: GitHubSimulator
) -> None:
    # The first worker looks at the deliveries again only after 30 s: between the push and the verify step the
    # rotation rests, and that is when the worker dies.
    first = workers("first", poll="30")
    feed = _jfrog_feed(admin, jfrog, rotation_grace_hours=0)
    _deliver(admin, feed, github)
    old = feed.current_token.reveal() if feed.current_token else ""
    rotation = services.rotation_request(actor=admin, feed=feed)

    # The rotation pushed and waits for its deliveries (verify): kill the worker, as a machine dies.
    _wait(
        lambda: (
            Rotation.objects.filter(pk=rotation.pk, phase=Phase.VERIFY).exists()
            and not Delivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()
        ),
        60,
        "the push step",
    )
    first.kill()
    rotation.refresh_from_db()
    assert rotation.status == Status.RUNNING and rotation.phase == Phase.VERIFY

    # Another worker takes it over through the scheduler's sweep (run as if three minutes had passed): the
    # message that would have woken the rotation died with the first worker.
    second = workers("second")
    assert services.resume_lost(now=timezone.now() + timedelta(minutes=3)) == 1
    _wait(lambda: Rotation.objects.get(pk=rotation.pk).phase == Phase.DONE, 60, "the rotation to finish")
    rotation.refresh_from_db()
    feed.refresh_from_db()
    assert rotation.status == Status.COMPLETED and rotation.previous_revoked_at is not None, rotation.error
    minted = [t for t in jfrog.tokens() if t["description"] == rotation.mint_description]
    assert len(minted) == 1 and minted[0]["live"], "one token minted for the rotation, and it is the live one"
    assert rotation.steps.get(name="mint").attempts == 1
    new = feed.current_token.reveal() if feed.current_token else ""
    assert jfrog.is_live(new) and not jfrog.is_live(old)
    assert {github.repo_secret_value("acme", f"app-{n}", "PIP_INDEX_URL") for n in range(3)} == {
        feed.credentialed_url()
    }
    for log in (first.log(), second.log()):
        assert old not in log and new not in log


def test_an_emergency_rotation_with_a_pasted_token_revokes_the_leaked_one_at_once(
    workers: Callable[..., WorkerProcess],
    admin: Any,
    jfrog: JFrogSimulator,
    github: GitHubSimulator,
    login: Any,
    api: Any,
) -> None:
    worker = workers("worker")
    feed = _jfrog_feed(admin, jfrog, rotation_grace_hours=48)
    _deliver(admin, feed, github, repos=2)
    leaked = feed.current_token.reveal() if feed.current_token else ""
    pasted = jfrog.mint("feedkeeper", expires_in=30 * 86400)["access_token"]
    rotation = services.rotation_request(
        actor=admin, feed=feed, token=pasted, token_expires_at=timezone.now() + timedelta(days=30), emergency=True
    )
    _wait(lambda: Rotation.objects.get(pk=rotation.pk).phase == Phase.DONE, 60, "the emergency rotation")
    rotation.refresh_from_db()
    steps = dict(rotation.steps.values_list("name", "status"))
    assert rotation.status == Status.COMPLETED and rotation.trigger == "emergency", rotation.error
    assert steps["mint"] == StepStatus.SKIPPED and steps["revoke"] == StepStatus.DONE
    # No grace in an emergency: the leaked token (pasted once, so revoked by its value) is dead already.
    assert not jfrog.is_live(leaked) and jfrog.is_live(pasted)
    assert TokenVersion.objects.get(pk=rotation.previous_token_id).stage == TokenVersion.Stage.REVOKED
    _assert_nowhere([leaked, pasted, jfrog.admin_token], worker, admin, login, api, rotation)


def test_a_pasted_token_the_feed_refuses_fails_the_test_with_nothing_pushed(
    workers: Callable[..., WorkerProcess], admin: Any, jfrog: JFrogSimulator, github: GitHubSimulator
) -> None:
    worker = workers("worker")
    feed = _jfrog_feed(admin, jfrog, connected=False)
    _deliver(admin, feed, github, repos=1)
    before = feed.fingerprint
    refused = "not-a-token-the-feed-knows-12345"
    rotation = services.rotation_request(actor=admin, feed=feed, token=refused)
    _wait(lambda: Rotation.objects.get(pk=rotation.pk).status != Status.RUNNING, 60, "the test step")
    rotation.refresh_from_db()
    feed.refresh_from_db()
    assert rotation.status == Status.FAILED and rotation.phase == Phase.TEST
    assert "does not accept the new token" in rotation.error and "Nothing was pushed" in rotation.error
    assert feed.fingerprint == before
    assert set(Delivery.objects.values_list("delivered_fingerprint", flat=True)) == {before}
    assert TokenVersion.objects.get(pk=rotation.new_token_id).stage == TokenVersion.Stage.DISCARDED
    assert refused not in worker.log() and refused not in database_dump()


def _assert_nowhere(
    secrets: list[str], worker: WorkerProcess, admin: Any, login: Any, api: Any, rotation: Rotation
) -> None:
    """Every token a rotation minted, took or replaced: in no row, page, API answer or worker log."""
    client, rest = login(admin), api(admin)
    seen = [database_dump(), worker.log()]
    for path in (f"/feeds/{rotation.feed_id}/", f"/rotations/{rotation.pk}/", "/rotations/", "/audit/", "/"):
        seen.append(client.get(path).content.decode())
    for path in (
        f"/api/v1/rotations/{rotation.pk}/",
        f"/api/v1/feeds/{rotation.feed_id}/",
        f"/api/v1/feeds/{rotation.feed_id}/dependents/",
        "/api/v1/audit/",
    ):
        seen.append(rest.get(path).content.decode())
    everything = "\n".join(seen)
    for secret in secrets:
        assert secret and secret not in everything
