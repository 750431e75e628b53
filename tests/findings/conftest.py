"""Fixtures for findings: simulated platforms seeded with credentialed URLs pasted by hand, feeds whose tokens are
canaries, targets, and helpers that run a scan or a push inline as the worker would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest

from feeds import services as feed_services
from feeds.models import Feed
from findings import services as findings_services
from findings.models import Finding, ScanRun
from simulators.databricks import DatabricksSimulator
from simulators.github import GitHubSimulator
from simulators.valohai import ValohaiSimulator
from targets import pushing
from targets import services as target_services
from targets.models import Delivery, Push, Target

FEED_HOST = "pkgs.example.com"
FEED_PATH = "/acme/_packaging/internal/pypi/simple/"
OTHER_HOST = "other.example.org"


def canary() -> str:
    return "canary-" + uuid4().hex


def url(token: str, host: str = FEED_HOST, path: str = FEED_PATH, user: str = "build") -> str:
    return f"https://{user}:{token}@{host}{path}"


@pytest.fixture
def token() -> str:
    """The feed's current token (a canary)."""
    return canary()


@pytest.fixture
def feed(admin: Any, token: str) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name="acme-internal",
        kind="generic",
        index_url=f"https://{FEED_HOST}{FEED_PATH}",
        username="build",
        token=token,
    )


@pytest.fixture
def databricks() -> Iterator[DatabricksSimulator]:
    with DatabricksSimulator(workspaces=1) as sim:
        yield sim


@pytest.fixture
def workspace(admin: Any, databricks: DatabricksSimulator) -> Target:
    return target_services.target_create(
        actor=admin, kind="databricks", name="ws-prod", url=databricks.urls[0], auth_type="pat", token="dapi-sim-token"
    )


@pytest.fixture
def valohai() -> Iterator[ValohaiSimulator]:
    with ValohaiSimulator() as sim:
        yield sim


@pytest.fixture
def acme(valohai: ValohaiSimulator) -> dict[str, Any]:
    org = valohai.add_organization("acme")
    org["projects"] = [valohai.add_project("acme", f"project-{i}") for i in range(1, 3)]
    return org


@pytest.fixture
def vh_target(admin: Any, valohai: ValohaiSimulator, acme: dict[str, Any]) -> Target:
    return target_services.target_create(
        actor=admin, kind="valohai", name="vh-acme", url=valohai.url, auth_type="token", token="vh-sim-token",
        organization="acme",
    )  # fmt: skip


@pytest.fixture
def github() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as sim:
        yield sim


@pytest.fixture
def gh_target(admin: Any, github: GitHubSimulator) -> Target:
    return target_services.target_create(
        actor=admin, kind="github", name="gh-acme", url=github.api_url, token="ghp-sim-token", organization="acme"
    )


def scan(target: Target, actor: Any = "system") -> ScanRun:
    """Request a scan and run it inline, as the worker would."""
    run = findings_services.target_scan_request(actor=actor, target=target)
    findings_services.target_scan_run(scan_id=run.pk)
    run.refresh_from_db()
    return run


def findings_of(target: Target) -> dict[str, Finding]:
    return {f.location: f for f in Finding.objects.filter(target=target)}


def run_pushes(delivery: Delivery) -> Push:
    """Run the delivery's waiting push inline (with whatever consent it was requested with)."""
    push = Push.objects.filter(delivery=delivery).order_by("-id").first()
    assert push is not None
    pushing.push_dispatch(target_id=delivery.target_id)
    pushing.push_run(push_id=push.pk)
    push.refresh_from_db()
    return push
