"""Rotations end to end: a real Celery worker, the real broker, the JFrog simulator minting and revoking, and
deliveries on the GitHub, Valohai and Databricks simulators. After a rotation, pip installs with the new value
and the old token is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.utils import timezone

from audit.models import AuditEvent
from feeds import connections
from feeds import services as feed_services
from feeds.models import Feed, TokenVersion
from rotations import services
from rotations.models import Rotation, Status
from rotations.tasks import tick
from simulators.databricks import DatabricksSimulator
from simulators.github import GitHubSimulator
from simulators.jfrog import JFrogSimulator
from simulators.valohai import ValohaiSimulator
from targets import services as target_services
from targets.models import Delivery, DeliveryStatus
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker


@pytest.fixture
def jfrog() -> Iterator[JFrogSimulator]:
    with JFrogSimulator(latency=0.005) as sim:
        yield sim


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _pip_download(index_url: str, dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--index-url",
            index_url,
            "feedkeeper-probe",
            "-d",
            str(dest),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("PIP_")}, "PIP_CONFIG_FILE": os.devnull},
    )


def _jfrog_feed(admin: Any, jfrog: JFrogSimulator, *, connected: bool = True, **rotation: Any) -> Feed:
    """A JFrog feed whose first token the simulator minted; rotated through a connection unless not
    ``connected`` (then new tokens are pasted)."""
    extra: dict[str, Any] = dict(rotation)
    if connected:
        conn = connections.connection_create(
            actor=admin, kind="jfrog", name="jfrog", url=jfrog.url, token=jfrog.admin_token
        )
        extra["rotation_connection"] = conn.pk
    first = jfrog.mint("feedkeeper", expires_in=90 * 86400)["access_token"]
    return feed_services.feed_create(
        actor=admin,
        name="acme-jfrog",
        kind="jfrog",
        base_url=jfrog.url,
        repository="pypi-local",
        username="feedkeeper",
        token=first,
        **extra,
    )


def test_a_scheduled_jfrog_rotation_reaches_github_valohai_and_databricks_and_revokes_the_old_token(
    celery_worker_process: WorkerProcess, admin: Any, jfrog: JFrogSimulator, tmp_path: Path
) -> None:
    with GitHubSimulator(latency=0.005) as gh, ValohaiSimulator() as vh, DatabricksSimulator(workspaces=1) as dbx:
        gh.add_repo("acme", "app")
        vh.add_organization("acme")
        project = vh.add_project("acme", "project-1")
        feed = _jfrog_feed(admin, jfrog, rotation_grace_hours=0)
        old = TokenVersion.objects.get(pk=int(feed.current_token_id or 0)).reveal()
        old_url = feed.credentialed_url()
        targets = [
            target_services.target_create(
                actor=admin, kind="github", name="gh", url=gh.api_url, token="ghp-sim-token", organization="acme"
            ),
            target_services.target_create(
                actor=admin,
                kind="valohai",
                name="vh",
                url=vh.url,
                auth_type="token",
                token="vh-sim-token",
                organization="acme",
            ),
            target_services.target_create(
                actor=admin, kind="databricks", name="ws", url=dbx.urls[0], auth_type="pat", token="dapi-sim-token"
            ),
        ]
        target_services.delivery_create(actor=admin, feed=feed, target=targets[0], mode="actions_org_secret")
        target_services.delivery_create(actor=admin, feed=feed, target=targets[1], projects=["*"])
        target_services.delivery_create(actor=admin, feed=feed, target=targets[2], mode="workspace_default")
        _wait(
            lambda: set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED},
            60,
            "the first pushes",
        )
        assert gh.secret_value("acme", "PIP_INDEX_URL") == old_url

        # Due: the token was made current more than the interval ago. Nobody acts; the scheduler's tick (what
        # beat sends every minute) goes through the broker to the worker.
        feed_services.feed_update(actor=admin, feed=feed, rotation_interval_days=7)
        TokenVersion.objects.filter(pk=int(feed.current_token_id or 0)).update(
            promoted_at=timezone.now() - timedelta(days=8)
        )
        tick.delay()
        _wait(lambda: Rotation.objects.filter(previous_revoked_at__isnull=False).exists(), 90, "the rotation")

        rotation = Rotation.objects.get()
        feed.refresh_from_db()
        new_url = feed.credentialed_url()
        new = TokenVersion.objects.get(pk=int(feed.current_token_id or 0)).reveal()
        assert rotation.trigger == "schedule" and rotation.status == Status.COMPLETED, rotation.error
        assert new != old and jfrog.is_live(new) and not jfrog.is_live(old)
        assert gh.secret_value("acme", "PIP_INDEX_URL") == new_url
        assert (vh.env_var(project["id"], "PRIVATE_PYPI_INDEX_URL") or {}).get("value") == new_url
        assert dbx.workspace(0).secret_value("databricks-package-management", "pip-index-url") == new_url
        assert {d["fingerprint"] for d in rotation.deliveries.values()} == {rotation.new_fingerprint}
        steps = dict(rotation.steps.values_list("name", "status"))
        assert steps == {n: "done" for n in ("mint", "test", "push", "verify", "promote", "revoke")}

        assert _pip_download(new_url, tmp_path / "new").returncode == 0
        refused = _pip_download(old_url, tmp_path / "old")
        assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr

        # No token, minted or pasted, in any record or the worker's log.
        recorded = " ".join(str(v) for v in AuditEvent.objects.values_list("detail", "object_repr"))
        recorded += " ".join(str(v) for v in Rotation.objects.values_list("deliveries", "error"))
        recorded += " ".join(str(v) for v in rotation.steps.values_list("detail", flat=True))
        recorded += celery_worker_process.log()
        for secret in (old, new, jfrog.admin_token):
            assert secret not in recorded


def test_a_target_down_during_the_push_is_retried_and_the_rotation_completes(
    celery_worker_process: WorkerProcess, admin: Any, jfrog: JFrogSimulator, settings: Any
) -> None:
    with GitHubSimulator(latency=0.005) as gh:
        feed = _jfrog_feed(admin, jfrog, rotation_grace_hours=24)
        target = target_services.target_create(
            actor=admin, kind="github", name="gh", url=gh.api_url, token="ghp-sim-token", organization="acme"
        )
        target_services.delivery_create(actor=admin, feed=feed, target=target, mode="actions_org_secret")
        _wait(lambda: Delivery.objects.filter(status=DeliveryStatus.DELIVERED).exists(), 60, "the first push")
        gh.faults.add(503, count=2, path_contains="/actions/secrets/PIP_INDEX_URL", method="PUT")
        rotation = services.rotation_request(actor=admin, feed=feed)
        _wait(lambda: Rotation.objects.get(pk=rotation.pk).status != Status.RUNNING, 90, "the rotation")
        rotation.refresh_from_db()
        assert rotation.status == Status.COMPLETED, rotation.error
        feed.refresh_from_db()
        assert gh.secret_value("acme", "PIP_INDEX_URL") == feed.credentialed_url()
        assert rotation.previous_revoked_at is None  # the grace keeps the previous token
        assert jfrog.is_live(TokenVersion.objects.get(pk=int(rotation.previous_token_id or 0)).reveal())


def test_two_rotation_requests_at_once_start_one(
    transactional_db: None, admin: Any, jfrog: JFrogSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = _jfrog_feed(admin, jfrog)
    # Only the requests race here: the rotations they start are not run.
    monkeypatch.setattr(services, "_enqueue", lambda rotation, countdown=None: None)
    started = []

    def request(n: int) -> str:
        try:
            services.rotation_request(actor=admin, feed=feed, token=f"pasted-token-{n}-abcdef")
            return "started"
        except ValidationError as exc:
            return str(exc)
        finally:
            db_connection.close()

    with ThreadPoolExecutor(4) as pool:
        started = list(pool.map(request, range(4)))
    assert started.count("started") == 1
    assert all("of this feed is running" in s for s in started if s != "started")
    assert Rotation.objects.filter(feed=feed).count() == 1
