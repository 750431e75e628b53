"""End to end on a real worker, and the canary for findings: feed tokens pasted in plain sight on a simulated
workspace are found by a scan the API asks for, replaced from the finding's page, and afterwards neither the token
that was found nor the feed's appear in any page, API answer, audit row, worker log or database column."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from feeds import services as feed_services
from findings.models import Finding, FindingStatus
from simulators.databricks import DatabricksSimulator
from simulators.databricks.workloads_api import install_library
from targets import services as target_services
from targets.models import Push
from tests.findings.conftest import FEED_HOST, FEED_PATH, canary, url
from tests.support.leaks import database_dump
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker


def forms_of(secret: str, username: str = "build") -> list[str]:
    return [secret, quote(secret, safe=""), base64.b64encode(f"{username}:{secret}".encode()).decode()]


def wait_for(api: APIClient, path: str, timeout: float = 40) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(path).json()
        if body.get("status") not in ("pending", "running"):
            return body  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"{path} still running")


def wait_push(delivery_id: int, timeout: float = 40) -> Push:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        push = Push.objects.filter(delivery_id=delivery_id).order_by("-id").first()
        if push is not None and push.is_final:
            return push
        time.sleep(0.2)
    raise AssertionError("push still running")


def test_a_real_worker_scan_finds_replaces_and_leaks_no_token_anywhere(
    celery_worker_process: WorkerProcess,
    admin: User,
    operator: User,
    login: Callable[[User], Client],
    api: Callable[[User], APIClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    current, found_unknown = canary(), f"canary-p@ss:w/rd%#?-{canary()}"
    feed = feed_services.feed_create(
        actor=admin, name="acme", kind="generic", index_url=f"https://{FEED_HOST}{FEED_PATH}", username="build",
        token=current,
    )  # fmt: skip
    leaks = [*forms_of(current), *forms_of(found_unknown)]
    with DatabricksSimulator(workspaces=1) as sim:
        ws = sim.workspace(0)
        ws.add_cluster(
            cluster_id="0123-abc",
            state="TERMINATED",
            spark_env_vars={"PIP_INDEX_URL": url(current)},
            spark_conf={"spark.x": url(quote(found_unknown, safe=""))},
        )
        install_library(ws, "0123-abc", {"pypi": {"package": "acme", "repo": url(current)}})
        target = target_services.target_create(
            actor=admin, kind="databricks", name="ws", url=sim.urls[0], auth_type="pat", token="dapi-sim-token"
        )
        client = api(operator)
        accepted = client.post(f"/api/v1/targets/{target.pk}/scan/")
        assert accepted.status_code == 202
        record = wait_for(client, f"/api/v1/checks/{accepted.json()['id']}/")
        assert record["status"] == "ok", record
        found = {f.location: f for f in Finding.objects.filter(target=target)}
        assert set(found) == {
            "cluster 0123-abc spark_env_vars.PIP_INDEX_URL",
            "cluster 0123-abc spark_conf.spark.x",
            "cluster 0123-abc library pypi acme repo",
        }
        env = found["cluster 0123-abc spark_env_vars.PIP_INDEX_URL"]
        assert env.feed == feed and env.token_match == "current"
        assert found["cluster 0123-abc spark_conf.spark.x"].token_match == "unknown"

        admin_ui = login(admin)
        answers = [
            admin_ui.get("/findings/"),
            admin_ui.get(f"/findings/{env.pk}/"),
            admin_ui.get(f"/targets/{target.pk}/"),
            admin_ui.get("/"),
            client.get("/api/v1/findings/"),
            client.get(f"/api/v1/findings/{env.pk}/"),
            admin_ui.get("/audit/"),
        ]
        replaced = admin_ui.post(
            f"/findings/{env.pk}/replace/",
            {"feed": feed.pk, "scope": "feedkeeper", "key": "acme", "restart_consent": "on"},
        )
        assert replaced.status_code == 302
        env.refresh_from_db()
        assert env.status == FindingStatus.RESOLVED and env.replaced_by is not None
        assert wait_push(env.replaced_by.pk).status == "succeeded"
        assert ws.cluster("0123-abc")["spark_env_vars"] == {"PIP_INDEX_URL": "{{secrets/feedkeeper/acme}}"}  # type: ignore[index]
        again = client.post(f"/api/v1/targets/{target.pk}/scan/")
        assert wait_for(client, f"/api/v1/checks/{again.json()['id']}/")["status"] == "ok"
        assert Finding.objects.get(pk=env.pk).status == FindingStatus.RESOLVED
        assert Finding.objects.filter(target=target, status=FindingStatus.OPEN).count() == 2
        answers += [admin_ui.get(f"/findings/{env.pk}/"), client.get("/api/v1/findings/?status=resolved")]

    texts = {
        **{f"answer {i}": r.content.decode(errors="replace") for i, r in enumerate(answers)},
        "database": database_dump(),
        "worker log": celery_worker_process.log(),
        "test log": caplog.text,
    }
    assert "cluster 0123-abc spark_env_vars.PIP_INDEX_URL" in texts["answer 0"]
    for where, text in texts.items():
        for leak in leaks:
            assert leak not in text, f"a token leaked into the {where}"
