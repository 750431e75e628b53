"""The demo's outside world: a private index (the JFrog simulator's Artifactory PyPI repository, whose Access API
also mints and revokes tokens, so the demo's feed rotates for real) on a free loopback port, and the HTTP helpers
the platforms' demo modules (``simulators.<kind>.demo``) use to wait for and seed their simulators."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.processes import Child, Supervisor

INDEX_USER = "demo-reader"
DEMO_PACKAGE = "acme-utils"
LATENCY_MS = 50  # added by every simulator to each API request, so pushes take a visible moment


@dataclass(frozen=True)
class Index:
    url: str  # the simple index URL, no credentials
    username: str
    token: str
    package: str
    base_url: str = ""  # the JFrog platform (its Access API mints and revokes tokens)
    repository: str = ""
    admin_token: str = ""  # allowed to create and revoke tokens: the demo's rotation connection
    spare_token: str = ""  # a second token the index accepts for ``username`` (the smoke test's pasted rotation)


def http_json(method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 5) -> Any:
    """Call a simulator's JSON endpoint (its ``/_sim/`` control API) and return the decoded answer; an HTTP error
    raises ``urllib.error.HTTPError``."""
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


def start_index(sup: Supervisor, env: dict[str, str], cwd: Path) -> Child:
    """The JFrog simulator on a free port, with the demo's reader and package."""
    argv = [sys.executable, "-m", "simulators.jfrog", "--port", "0", "--latency-ms", str(LATENCY_MS)]
    return sup.start("jfrog", [*argv, "--user", INDEX_USER], env=env, cwd=cwd)


def ready_index(sup: Supervisor, child: Child) -> Index:
    """Wait for the simulator's ready line, add the demo's package, and mint the reader's two tokens (the feed's,
    valid for 5 days, and a spare one) through its control API."""
    m = sup.wait_for_line(child, r"^jfrog: (\S+) token=(\S+) repo=(\S+) user=(\S+)")
    base, admin, repo, user = m.groups()
    wait_http(f"{base}/_sim/state")
    http_json("POST", f"{base}/_sim/packages", {"name": DEMO_PACKAGE, "version": "1.2.0", "repo": repo})
    token = http_json("POST", f"{base}/_sim/tokens", {"username": user, "expires_in": 5 * 86400, "description": "demo"})
    spare = http_json(
        "POST", f"{base}/_sim/tokens", {"username": user, "expires_in": 30 * 86400, "description": "spare"}
    )
    return Index(
        url=f"{base}/artifactory/api/pypi/{repo}/simple/",
        username=user,
        token=str(token["access_token"]),
        package=DEMO_PACKAGE,
        base_url=base,
        repository=repo,
        admin_token=admin,
        spare_token=str(spare["access_token"]),
    )
