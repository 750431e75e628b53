"""The ``/_sim/`` control API of the GitHub simulator: no auth, no latency, no faults, never rate limited.

``GET  /_sim/state``        everything, secret plaintexts included
``GET  /_sim/requests``     ``[[method, path], ...]`` of API calls
``POST /_sim/orgs``         ``{"login"}`` -> the organization as the API shows it
``POST /_sim/repos``        ``{"org", "name", "visibility"?}`` -> the repository
``POST /_sim/tokens``       ``{"token", "login", "expires_at"?, "admin_of"?, "member_of"?}``
``POST /_sim/rotate_key``   ``{"org", "repo"?}`` -> ``{"key_id", "key"}`` (the new public key)
``POST /_sim/latency``      ``{"seconds"}``
``POST /_sim/faults``       ``{"status", "count"?, "path_contains"?, "method"?, "retry_after"?, "hang"?,
                            "error_code"?, "message"?}`` | ``{"rate", "statuses"?, "seed"?}`` | ``{"clear": true}``
``POST /_sim/rate_limit``   ``{"limit"?, "window"?}`` and/or ``{"login", "used"}``
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import GitHubSimulator


class ControlError(Exception):
    """A control-API failure, answered as ``{"message": …}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle_control(sim: GitHubSimulator, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    """Serve one ``/_sim/`` request: (status, JSON body)."""
    try:
        body = _parse(raw)
        return _route(sim, method, path.rstrip("/"), body)
    except ControlError as exc:
        return exc.status, {"message": str(exc)}
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"message": f"{type(exc).__name__}: {exc}"}


def _parse(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def _route(sim: GitHubSimulator, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    action = path.removeprefix("/_sim").strip("/")
    if method == "GET" and action == "state":
        return 200, sim.dump()
    if method == "GET" and action == "requests":
        return 200, [list(r) for r in sim.requests]
    if method != "POST" or action not in _ACTIONS:
        known = action in _ACTIONS or action in ("state", "requests")
        raise ControlError(405 if known else 404, f"no control endpoint {method} {path}")
    return _ACTIONS[action](sim, body)


def _orgs(sim: GitHubSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    return 201, sim.add_org(body["login"])


def _repos(sim: GitHubSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    return 201, sim.add_repo(body["org"], body["name"], body.get("visibility", "private"))


def _tokens(sim: GitHubSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    return 201, sim.add_token(
        body["token"],
        body["login"],
        expires_at=body.get("expires_at"),
        admin_of=body.get("admin_of") or [],
        member_of=body.get("member_of") or [],
    )


def _rotate(sim: GitHubSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    sim.rotate_key(body["org"], body.get("repo"))
    return 200, sim.public_key(body["org"], body.get("repo"))


def _latency(sim: GitHubSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    sim.latency = float(body.get("seconds", 0))
    return 200, {"latency": sim.latency}


def _faults(sim: GitHubSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    if body.get("clear"):
        sim.faults.clear()
    elif "rate" in body:
        sim.faults.rate(
            float(body["rate"]),
            statuses=tuple(body.get("statuses", (429, 500, 503))),
            seed=body.get("seed"),
            retry_after=body.get("retry_after", 1),
        )
    else:
        sim.faults.add(
            body["status"],
            count=int(body.get("count", 1)),
            path_contains=body.get("path_contains") or "",
            method=body.get("method"),
            retry_after=body.get("retry_after"),
            hang=float(body.get("hang", 30.0)),
            error_code=body.get("error_code"),
            message=body.get("message"),
        )
    return 200, sim.faults.describe()


def _rate_limit(sim: GitHubSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    if "limit" in body or "window" in body:
        sim.set_rate_limit(limit=body.get("limit"), window=body.get("window"))
    if "login" in body:
        sim.set_rate_used(body["login"], int(body.get("used", 0)))
    return 200, sim.limiter.snapshot()


_ACTIONS = {
    "orgs": _orgs,
    "repos": _repos,
    "tokens": _tokens,
    "rotate_key": _rotate,
    "latency": _latency,
    "faults": _faults,
    "rate_limit": _rate_limit,
}
