"""Canary for targets: target credentials (PAT, OAuth client secret, Valohai token) and the feed token pushed to
them through a real worker appear in no page, API answer, log line, worker log, audit row or database row.
They may only appear where they are meant to: inside the simulated platforms."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import pytest

from audit.models import AuditEvent
from simulators.databricks import DatabricksSimulator
from simulators.valohai import ValohaiSimulator
from targets.models import Delivery, Push, TargetCheck
from tests.support.leaks import database_dump
from tests.support.worker import WorkerProcess, start_worker

pytestmark = pytest.mark.worker


@pytest.fixture
def worker(transactional_db: None, tmp_path: Path) -> Iterator[WorkerProcess]:
    from config.celery_app import app

    app.conf.task_always_eager = False
    proc = start_worker(tmp_path / "worker.log")
    try:
        yield proc
    finally:
        proc.process.terminate()
        proc.process.wait(timeout=15)
        app.conf.task_always_eager = True


def _wait(predicate: Any, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_no_target_credential_or_pushed_token_leaks_anywhere(
    worker: WorkerProcess, admin: Any, api: Any, login: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tag = uuid4().hex
    pat, sp_secret, vh_token = f"dapi-canary-{tag}", f"sp-canary-{tag}", f"vh-canary-{tag}"
    feed_token = f"feed-canary-p@ss:{tag}"
    canaries = [pat, sp_secret, vh_token, feed_token, quote(feed_token, safe="")]

    with DatabricksSimulator(workspaces=2, token=None) as dbx, ValohaiSimulator(token=vh_token) as vh:
        dbx.workspace(0).add_token(pat)
        dbx.workspace(1).add_service_principal("sp-client", sp_secret)
        vh.add_organization("acme")
        for i in range(3):
            vh.add_project("acme", f"p{i}")
        client = api(admin)
        feed = client.post(
            "/api/v1/feeds/",
            {
                "name": "canary-feed",
                "kind": "generic",
                "index_url": "https://pkgs.example.com/simple/",
                "username": "ci",
                "token": feed_token,
            },
            format="json",
        ).json()
        targets = [
            client.post("/api/v1/targets/", body, format="json").json()
            for body in (
                {"name": "dbx-pat", "kind": "databricks", "url": dbx.urls[0], "auth_type": "pat", "token": pat},
                {
                    "name": "dbx-sp",
                    "kind": "databricks",
                    "url": dbx.urls[1],
                    "auth_type": "oauth_m2m",
                    "client_id": "sp-client",
                    "client_secret": sp_secret,
                },
                {
                    "name": "vh",
                    "kind": "valohai",
                    "url": vh.url,
                    "auth_type": "token",
                    "token": vh_token,
                    "organization": "acme",
                },
            )
        ]
        assert all("id" in t for t in targets), targets
        modes = [
            {"mode": "workspace_default"},
            {"mode": "secret", "scope": "team", "key": "pypi"},
            {"mode": "project_variable", "projects": ["*"]},
        ]
        for target, mode in zip(targets, modes, strict=True):
            made = client.post(
                "/api/v1/deliveries/", {"feed": feed["id"], "target": target["id"], **mode}, format="json"
            )
            assert made.status_code == 201, made.content
        _wait(lambda: Delivery.objects.count() == 3 and all(d.status == "delivered" for d in Delivery.objects.all()))
        for target in targets:
            client.post(f"/api/v1/targets/{target['id']}/check/")
        _wait(
            lambda: (
                TargetCheck.objects.exclude(status__in=["pending", "running"]).count()
                >= TargetCheck.objects.count()
                > 0
            )
        )
        # The platforms did get the real values: the canaries are meaningful.
        assert feed_token in (
            dbx.workspace(0).secret_value("databricks-package-management", "pip-index-url") or ""
        ).replace(quote(feed_token, safe=""), feed_token)

        browser = login(admin)
        pages = ["/", "/targets/", "/targets/deliveries/", "/audit/", "/feeds/", f"/feeds/{feed['id']}/"]
        for target in targets:
            pages += [f"/targets/{target['id']}/", f"/targets/{target['id']}/edit/", f"/targets/{target['id']}/delete/"]
        for delivery in Delivery.objects.all():
            pages += [f"/targets/deliveries/{delivery.pk}/", f"/targets/deliveries/{delivery.pk}/edit/"]
        seen = {}
        for page in pages:
            response = browser.get(page)
            assert response.status_code == 200, page
            seen[page] = response.content.decode()
        api_paths = [
            "/api/v1/targets/",
            "/api/v1/deliveries/",
            "/api/v1/pushes/",
            "/api/v1/audit/?page_size=500",
            "/api/v1/feeds/",
        ]
        api_paths += [f"/api/v1/checks/{c.pk}/" for c in TargetCheck.objects.all()]
        api_paths += [f"/api/v1/pushes/{p.pk}/" for p in Push.objects.all()]
        for path in api_paths:
            response = client.get(path)
            assert response.status_code == 200, path
            seen[path] = response.content.decode()
        seen["audit rows"] = json.dumps([e.detail | {"repr": e.object_repr} for e in AuditEvent.objects.all()])
        seen["log records"] = "\n".join(r.getMessage() for r in caplog.records)
        seen["worker log"] = worker.log()
        seen["database"] = database_dump()

    for where, text in seen.items():
        for canary in canaries:
            assert canary not in text, f"{canary[:14]}… leaked in {where}"
