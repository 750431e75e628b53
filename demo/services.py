"""The demo's outside world: a private index (pypiserver with an htpasswd file and one wheel) and the Databricks and
Valohai simulators, each a child process on free loopback ports."""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.processes import Supervisor, free_port, free_port_run

INDEX_USER = "demo-reader"
DEMO_PACKAGE = "acme-utils"
DATABRICKS_WORKSPACES = 2
DATABRICKS_CLUSTERS = 4
VALOHAI_PROJECTS = 5
LATENCY_MS = 50


@dataclass(frozen=True)
class Index:
    url: str  # the simple index URL, no credentials
    username: str
    token: str
    package: str


@dataclass(frozen=True)
class Databricks:
    urls: list[str]
    token: str
    sp_client_id: str
    sp_client_secret: str
    cluster_id: str  # a TERMINATED UI cluster of workspace 0
    cluster_name: str


@dataclass(frozen=True)
class Valohai:
    url: str
    token: str
    organization: str


def http_json(method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 5) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - loopback simulators only
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback simulators only
        return json.loads(resp.read() or b"{}")


def wait_http(url: str, ok: tuple[int, ...] = (200,), timeout: float = 30) -> None:
    """Wait until ``url`` answers one of ``ok`` (any status in ``ok``, including 401 for a protected index)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
                if resp.status in ok:
                    return
                last = str(resp.status)
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return
            last = str(exc.code)
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f}s (last: {last})")


def start_index(sup: Supervisor, root: Path, env: dict[str, str], cwd: Path) -> tuple[Index, Any]:
    """pypiserver on a free port, guarded by an htpasswd file, serving one hand-built wheel."""
    from tests.support.pypi import prepare_index

    token = "pypi-" + secrets.token_urlsafe(18)
    port, argv = prepare_index(root, INDEX_USER, token, name=DEMO_PACKAGE, version="1.2.0")
    child = sup.start("pypiserver", argv, env=env, cwd=cwd)
    url = f"http://127.0.0.1:{port}/simple/"
    return Index(url=url, username=INDEX_USER, token=token, package=DEMO_PACKAGE), child


def start_databricks(sup: Supervisor, env: dict[str, str], cwd: Path) -> Any:
    port = free_port_run(DATABRICKS_WORKSPACES)
    argv = [
        sys.executable,
        "-m",
        "simulators.databricks",
        "--port",
        str(port),
        "--workspaces",
        str(DATABRICKS_WORKSPACES),
        "--clusters",
        str(DATABRICKS_CLUSTERS),
        "--latency-ms",
        str(LATENCY_MS),
    ]
    return sup.start("databricks-sim", argv, env=env, cwd=cwd)


def start_valohai(sup: Supervisor, env: dict[str, str], cwd: Path) -> Any:
    argv = [
        sys.executable,
        "-m",
        "simulators.valohai",
        "--port",
        str(free_port()),
        "--orgs",
        "1",
        "--projects",
        str(VALOHAI_PROJECTS),
        "--latency-ms",
        str(LATENCY_MS),
    ]
    return sup.start("valohai-sim", argv, env=env, cwd=cwd)


def ready_databricks(sup: Supervisor, child: Any) -> Databricks:
    """Read the workspace lines the simulator prints, add an OAuth service principal to workspace 1 and pick a
    TERMINATED UI cluster of workspace 0 for the ``secret`` delivery.

    Workspace 0 keeps its running clusters, so after a push its health shows "clusters needing restart" (they read
    the package repository when they start). Workspace 1 is a quiet one: its clusters are stopped, so its health
    is all ``ok``; the contract smoke test, which expects ``ok`` right after a push, is pointed at it."""
    last = DATABRICKS_WORKSPACES - 1
    sup.wait_for_line(child, rf"^workspace {last}: ")
    found = {}
    for m in re.finditer(r"^workspace (\d+): (\S+) token=(\S+)", child.log_text(), re.MULTILINE):
        found[int(m.group(1))] = (m.group(2), m.group(3))
    urls = [found[i][0] for i in range(DATABRICKS_WORKSPACES)]
    token = found[0][1]
    for url in urls:
        wait_http(f"{url}/.well-known/databricks-config")
    client_id = "demo-sp-" + secrets.token_hex(4)
    client_secret = "dose" + secrets.token_hex(16)
    http_json(
        "POST",
        f"{urls[1]}/_sim/service_principals",
        {"client_id": client_id, "client_secret": client_secret, "admin": True},
    )
    stopped = http_json("GET", f"{urls[1]}/_sim/state").get("clusters") or []
    for cluster in stopped:
        if cluster.get("state") == "RUNNING" and cluster.get("cluster_source") != "JOB":
            http_json("POST", f"{urls[1]}/_sim/clusters/{cluster['cluster_id']}/state", {"state": "TERMINATED"})
    state = http_json("GET", f"{urls[0]}/_sim/state")
    chosen = next(
        (c for c in state.get("clusters") or [] if c.get("state") == "TERMINATED" and c.get("cluster_source") == "UI"),
        None,
    )
    if chosen is None:
        raise RuntimeError("The Databricks simulator has no TERMINATED UI cluster to wire.")
    return Databricks(
        urls=urls,
        token=token,
        sp_client_id=client_id,
        sp_client_secret=client_secret,
        cluster_id=str(chosen["cluster_id"]),
        cluster_name=str(chosen.get("cluster_name", "")),
    )


def ready_valohai(sup: Supervisor, child: Any) -> Valohai:
    m = sup.wait_for_line(child, r"^valohai: (\S+) token=(\S+) organizations=(\S+)")
    url, token, orgs = m.group(1), m.group(2), m.group(3)
    wait_http(f"{url}/_sim/state")
    return Valohai(url=url, token=token, organization=orgs.split(",")[0])


def ready_index(index: Index) -> None:
    wait_http(index.url, ok=(200, 401))
