"""The Databricks simulator in ``make demo`` (see :mod:`demo.platform`): two workspaces with four clusters each.

Workspace 0 (target ``databricks-analytics``, PAT) gets the feed as the workspace default and as a secret wired to
one of its stopped UI clusters; its running clusters keep it at "clusters needing restart" after a push.
Workspace 1 (target ``databricks-ml``, OAuth M2M) gets the workspace default only; its clusters are stopped, so
its health is ``ok`` and the contract smoke test is pointed at it.
"""

from __future__ import annotations

import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from demo.platform import DemoPlatform, SeedContext, Seeding, rows
from demo.processes import Child, Supervisor, free_port_run
from demo.services import LATENCY_MS, http_json, wait_http

WORKSPACES = 2
CLUSTERS = 4
SECRET_SCOPE = "acme-pypi"
SECRET_KEY_NAME = "index-url"


@dataclass(frozen=True)
class DatabricksInfo:
    urls: list[str]
    token: str
    sp_client_id: str
    sp_client_secret: str
    cluster_id: str  # a TERMINATED UI cluster of workspace 0
    cluster_name: str


def prepare(urls: list[str], token: str) -> DatabricksInfo:
    """Seed the workspaces at ``urls`` for the demo through ``/_sim/``: an OAuth service principal (admin) in
    workspace 1, every running non-job cluster of workspace 1 stopped; and pick a TERMINATED UI cluster of
    workspace 0 for the ``secret`` delivery. Raises RuntimeError when workspace 0 has none."""
    for url in urls:
        wait_http(f"{url}/.well-known/databricks-config")
    client_id = "demo-sp-" + secrets.token_hex(4)
    client_secret = "dose" + secrets.token_hex(16)
    http_json(
        "POST",
        f"{urls[1]}/_sim/service_principals",
        {"client_id": client_id, "client_secret": client_secret, "admin": True},
    )
    for cluster in http_json("GET", f"{urls[1]}/_sim/state").get("clusters") or []:
        if cluster.get("state") == "RUNNING" and cluster.get("cluster_source") != "JOB":
            http_json("POST", f"{urls[1]}/_sim/clusters/{cluster['cluster_id']}/state", {"state": "TERMINATED"})
    state = http_json("GET", f"{urls[0]}/_sim/state")
    chosen = next(
        (c for c in state.get("clusters") or [] if c.get("state") == "TERMINATED" and c.get("cluster_source") == "UI"),
        None,
    )
    if chosen is None:
        raise RuntimeError("The Databricks simulator has no TERMINATED UI cluster to wire.")
    return DatabricksInfo(
        urls=list(urls),
        token=token,
        sp_client_id=client_id,
        sp_client_secret=client_secret,
        cluster_id=str(chosen["cluster_id"]),
        cluster_name=str(chosen.get("cluster_name", "")),
    )


class DatabricksDemo(DemoPlatform[DatabricksInfo]):
    kind = "databricks"

    def start(self, sup: Supervisor, env: dict[str, str], cwd: Path) -> Child:
        """``python -m simulators.databricks`` with one workspace per port from a free run of ports."""
        argv = [
            sys.executable,
            "-m",
            "simulators.databricks",
            "--port",
            str(free_port_run(WORKSPACES)),
            "--workspaces",
            str(WORKSPACES),
            "--clusters",
            str(CLUSTERS),
            "--latency-ms",
            str(LATENCY_MS),
        ]
        return sup.start(self.process_name, argv, env=env, cwd=cwd)

    def ready(self, sup: Supervisor, child: Child) -> DatabricksInfo:
        """Read the ``workspace N: URL token=T`` lines, then :func:`prepare` the workspaces."""
        sup.wait_for_line(child, rf"^workspace {WORKSPACES - 1}: ")
        found = {
            int(m.group(1)): (m.group(2), m.group(3))
            for m in re.finditer(r"^workspace (\d+): (\S+) token=(\S+)", child.log_text(), re.MULTILINE)
        }
        return prepare([found[i][0] for i in range(WORKSPACES)], found[0][1])

    def seed(self, ctx: SeedContext, info: DatabricksInfo) -> Seeding:
        """``databricks-analytics`` (PAT, workspace 0) and ``databricks-ml`` (OAuth M2M, workspace 1), the feed as
        the workspace default of both, and as the secret ``acme-pypi/index-url`` wired to the chosen cluster."""
        ctx.target("databricks-analytics", self.kind, url=info.urls[0], auth_type="pat", token=info.token)
        ctx.target(
            "databricks-ml",
            self.kind,
            url=info.urls[1],
            auth_type="oauth_m2m",
            client_id=info.sp_client_id,
            client_secret=info.sp_client_secret,
        )
        ctx.deliver("databricks-analytics", mode="workspace_default")
        ctx.deliver("databricks-ml", mode="workspace_default")
        ctx.deliver(
            "databricks-analytics", mode="secret", scope=SECRET_SCOPE, key=SECRET_KEY_NAME, clusters=[info.cluster_id]
        )
        return Seeding(
            f"databricks: targets databricks-analytics (PAT, {info.urls[0]}) and databricks-ml (OAuth M2M, "
            f"{info.urls[1]}); workspace_default on both; secret {SECRET_SCOPE}/{SECRET_KEY_NAME} wired to cluster "
            f"{info.cluster_name} ({info.cluster_id})"
        )

    def banner_lines(self, info: DatabricksInfo) -> list[str]:
        return rows(
            "Databricks",
            f"workspace 0 {info.urls[0]}  PAT {info.token}",
            f"workspace 1 {info.urls[1]}  OAuth M2M client {info.sp_client_id} (clusters stopped)",
            "(state: GET <url>/_sim/state)",
        )

    def smoke_args(self, info: DatabricksInfo) -> list[str]:
        """Workspace 1 with the PAT: its health is ``ok`` right after a push, as the smoke test expects."""
        return ["--databricks-url", info.urls[-1], "--databricks-token", info.token]


PLATFORM = DatabricksDemo()
