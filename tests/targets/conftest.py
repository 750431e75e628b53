"""Fixtures for targets: simulated platforms over real HTTP, and ready-made feeds and targets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from feeds import services as feed_services
from feeds.models import Feed
from simulators.databricks import DatabricksSimulator
from simulators.valohai import ValohaiSimulator
from targets import services
from targets.models import Target


@pytest.fixture
def databricks() -> Iterator[DatabricksSimulator]:
    with DatabricksSimulator(workspaces=2) as sim:
        yield sim


@pytest.fixture
def valohai() -> Iterator[ValohaiSimulator]:
    with ValohaiSimulator() as sim:
        yield sim


@pytest.fixture
def feed(admin: Any) -> Feed:
    return feed_services.feed_create(
        actor=admin,
        name="acme-internal",
        kind="generic",
        index_url="https://pkgs.example.com/simple/",
        username="build",
        token="feed-token-1",
    )


@pytest.fixture
def workspace(admin: Any, databricks: DatabricksSimulator) -> Target:
    return services.target_create(
        actor=admin, kind="databricks", name="ws-prod", url=databricks.urls[0], auth_type="pat", token="dapi-sim-token"
    )


@pytest.fixture
def acme(valohai: ValohaiSimulator) -> dict[str, Any]:
    """The organization ``acme`` with three projects (``project-1..3``), visible to the simulator's admin."""
    org = valohai.add_organization("acme")
    org["projects"] = [valohai.add_project("acme", f"project-{i}") for i in range(1, 4)]
    return org


@pytest.fixture
def vh_target(admin: Any, valohai: ValohaiSimulator, acme: dict[str, Any]) -> Target:
    return services.target_create(
        actor=admin,
        kind="valohai",
        name="vh-acme",
        url=valohai.url,
        auth_type="token",
        token="vh-sim-token",
        organization="acme",
    )
