"""The Valohai simulator in ``make demo`` (see :mod:`demo.platform`): organization ``acme`` with five projects;
target ``valohai-acme`` gets the feed as a project environment variable on every project."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from demo.platform import DemoPlatform, SeedContext, Seeding, rows
from demo.processes import Child, Supervisor, free_port
from demo.services import LATENCY_MS, wait_http

PROJECTS = 5


@dataclass(frozen=True)
class ValohaiInfo:
    url: str
    token: str
    organization: str


def prepare(url: str, token: str, organizations: list[str]) -> ValohaiInfo:
    """Wait until the simulator at ``url`` answers; the demo uses the first of ``organizations``."""
    wait_http(f"{url}/_sim/state")
    return ValohaiInfo(url=url, token=token, organization=organizations[0])


class ValohaiDemo(DemoPlatform[ValohaiInfo]):
    kind = "valohai"

    def start(self, sup: Supervisor, env: dict[str, str], cwd: Path) -> Child:
        """``python -m simulators.valohai`` with one organization of :data:`PROJECTS` projects."""
        argv = [
            sys.executable,
            "-m",
            "simulators.valohai",
            "--port",
            str(free_port()),
            "--orgs",
            "1",
            "--projects",
            str(PROJECTS),
            "--latency-ms",
            str(LATENCY_MS),
        ]
        return sup.start(self.process_name, argv, env=env, cwd=cwd)

    def ready(self, sup: Supervisor, child: Child) -> ValohaiInfo:
        """Read the ``valohai: URL token=T organizations=A,B`` line."""
        m = sup.wait_for_line(child, r"^valohai: (\S+) token=(\S+) organizations=(\S+)")
        return prepare(m.group(1), m.group(2), m.group(3).split(","))

    def seed(self, ctx: SeedContext, info: ValohaiInfo) -> Seeding:
        """``valohai-acme`` (token) and a ``project_variable`` delivery on every project (``*``)."""
        ctx.target(
            "valohai-acme", self.kind, url=info.url, auth_type="token", token=info.token, organization=info.organization
        )
        ctx.deliver("valohai-acme", mode="project_variable", projects=["*"])
        return Seeding(
            f"valohai: target valohai-acme (organization {info.organization}), project_variable on every project"
        )

    def banner_lines(self, info: ValohaiInfo) -> list[str]:
        return rows("Valohai", f"{info.url}  token {info.token}  organization {info.organization}")

    def smoke_args(self, info: ValohaiInfo) -> list[str]:
        return ["--valohai-url", info.url, "--valohai-token", info.token, "--valohai-org", info.organization]


PLATFORM = ValohaiDemo()
