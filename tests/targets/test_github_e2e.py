"""GitHub deliveries pushed by a real Celery worker process, through the real broker, into the simulator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from audit.models import AuditEvent
from feeds import services as feed_services
from simulators.github import GitHubSimulator
from targets import services
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker

CANARY = "ghp-canary-bad-token-5521"


@pytest.fixture
def github() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(latency=0.01) as sim:
        for name in ("app", "lib"):
            sim.add_repo("acme", name)
        yield sim


def _target(admin: Any, sim: GitHubSimulator, token: str = "ghp-sim-token") -> Target:
    return services.target_create(
        actor=admin, kind="github", name="gh", url=sim.api_url, token=token, organization="acme"
    )


def _final(delivery: Delivery, timeout: float = 30, after: int = 0) -> Push:
    deadline = time.monotonic() + timeout
    push = None
    while time.monotonic() < deadline:
        push = Push.objects.filter(delivery=delivery, pk__gt=after).order_by("-id").first()
        if push is not None and push.is_final:
            return push
        time.sleep(0.2)
    raise AssertionError(f"push of delivery {delivery.pk} still {push.status if push else 'missing'}")


def test_a_worker_pushes_org_and_repo_secrets_and_pushes_again_when_the_token_is_replaced(
    celery_worker_process: WorkerProcess, admin: Any, feed: Any, github: GitHubSimulator
) -> None:
    target = _target(admin, github)
    org = services.delivery_create(
        actor=admin, feed=feed, target=target, mode="actions_org_secret", visibility="selected", repositories=["app"]
    )
    repo = services.delivery_create(
        actor=admin, feed=feed, target=target, mode="actions_repo_secret", repositories=["app", "lib"]
    )
    first_org, first_repo = _final(org), _final(repo)
    assert (first_org.status, first_repo.status) == (PushStatus.SUCCEEDED, PushStatus.SUCCEEDED)
    value = feed.credentialed_url()
    assert github.secret_value("acme", "PIP_INDEX_URL") == value
    assert github.repo_secret_value("acme", "lib", "PIP_INDEX_URL") == value

    feed_services.feed_set_token(actor=admin, feed=feed, token="feed-token-rotated")
    again_org, again_repo = _final(org, after=first_org.pk), _final(repo, after=first_repo.pk)
    assert (again_org.status, again_repo.status) == (PushStatus.SUCCEEDED, PushStatus.SUCCEEDED)
    feed.refresh_from_db()
    assert "feed-token-rotated" in feed.credentialed_url()
    assert github.secret_value("acme", "PIP_INDEX_URL") == feed.credentialed_url()
    assert github.repo_secret_value("acme", "app", "PIP_INDEX_URL") == feed.credentialed_url()
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


def test_a_bad_token_fails_at_once_under_a_worker_and_leaks_nowhere(
    celery_worker_process: WorkerProcess, admin: Any, feed: Any, github: GitHubSimulator
) -> None:
    target = _target(admin, github, token=CANARY)
    delivery = services.delivery_create(actor=admin, feed=feed, target=target, mode="actions_org_secret")
    push = _final(delivery)
    assert push.status == PushStatus.FAILED and push.attempts == 1 and "refused the token" in push.error
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and CANARY not in delivery.last_error
    assert not any(CANARY in str(e.detail) for e in AuditEvent.objects.all())
    assert CANARY not in celery_worker_process.log()
