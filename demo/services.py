"""The demo's outside world: a private index (pypiserver with an htpasswd file and one wheel) on a free loopback
port, and the HTTP helpers the platforms' demo modules (``simulators.<kind>.demo``) use to wait for and seed their
simulators."""

from __future__ import annotations

import json
import secrets
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


def start_index(sup: Supervisor, root: Path, env: dict[str, str], cwd: Path) -> tuple[Index, Child]:
    """pypiserver on a free port, guarded by an htpasswd file, serving one hand-built wheel."""
    from tests.support.pypi import prepare_index

    token = "pypi-" + secrets.token_urlsafe(18)
    port, argv = prepare_index(root, INDEX_USER, token, name=DEMO_PACKAGE, version="1.2.0")
    child = sup.start("pypiserver", argv, env=env, cwd=cwd)
    url = f"http://127.0.0.1:{port}/simple/"
    return Index(url=url, username=INDEX_USER, token=token, package=DEMO_PACKAGE), child


def ready_index(index: Index) -> None:
    """Wait until the index answers (401 included: it asks for the token)."""
    wait_http(index.url, ok=(200, 401))
