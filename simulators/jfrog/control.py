"""The ``/_sim/`` control API of the JFrog simulator: no auth, no latency, no faults.

``GET  /_sim/state``     everything: policy, clock, users, repositories, tokens (values included), faults, requests
``GET  /_sim/requests``  ``[[method, path], ...]`` of API calls
``POST /_sim/users``     ``{"name", "admin"?, "groups"?}`` -> ``{"username", "token"}`` (a fresh identity token)
``POST /_sim/tokens``    ``{"username", "expires_in"?, "scope"?, "refreshable"?, "description"?,
                         "include_reference_token"?, "force_revocable"?}`` -> the Create Token answer (no policy)
``POST /_sim/revoke``    ``{"token_id"}`` or ``{"token"}`` -> ``{"revoked": bool}`` (bypasses every rule)
``POST /_sim/packages``  ``{"name", "version", "repo"?}`` -> ``{"filename"}``
``POST /_sim/latency``   ``{"seconds"}``
``POST /_sim/clock``     ``{"offset"}`` (absolute, seconds) or ``{"advance"}`` -> ``{"offset", "now"}``
``POST /_sim/faults``    ``{"status", "count"?, "path_contains"?, "method"?, "retry_after"?, "hang"?}`` |
                         ``{"rate", "statuses"?, "seed"?, "retry_after"?}`` | ``{"clear": true}``
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import JFrogSimulator


class ControlError(Exception):
    """A control-API failure, answered as ``{"message": …}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle_control(sim: JFrogSimulator, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    """Serve one ``/_sim/`` request: (status, JSON body)."""
    try:
        body = _parse(raw)
        action = path.removeprefix("/_sim").strip("/")
        if method == "GET" and action == "state":
            return 200, sim.dump()
        if method == "GET" and action == "requests":
            return 200, [list(r) for r in sim.requests]
        if method != "POST" or action not in _ACTIONS:
            known = action in _ACTIONS or action in ("state", "requests")
            raise ControlError(405 if known else 404, f"no control endpoint {method} {path}")
        return _ACTIONS[action](sim, body)
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


def _users(sim: JFrogSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    groups = body.get("groups")
    token = sim.add_user(
        str(body["name"]), admin=bool(body.get("admin", False)), groups=("readers",) if groups is None else groups
    )
    return 201, {"username": body["name"], "token": token}


def _tokens(sim: JFrogSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    return 201, sim.mint(
        str(body["username"]),
        expires_in=body.get("expires_in"),
        scope=body.get("scope", "applied-permissions/user"),
        refreshable=bool(body.get("refreshable", False)),
        description=body.get("description"),
        include_reference_token=bool(body.get("include_reference_token", False)),
        force_revocable=bool(body.get("force_revocable", False)),
    )


def _revoke(sim: JFrogSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"revoked": sim.revoke(str(body.get("token_id") or body["token"]))}


def _packages(sim: JFrogSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    return 201, {"filename": sim.add_package(str(body["name"]), str(body["version"]), repo=body.get("repo"))}


def _latency(sim: JFrogSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    sim.latency = float(body.get("seconds", 0))
    return 200, {"latency": sim.latency}


def _clock(sim: JFrogSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    if "advance" in body:
        sim.set_clock_offset(sim.state.clock_offset + float(body["advance"]))
    else:
        sim.set_clock_offset(float(body.get("offset", 0)))
    return 200, {"offset": sim.state.clock_offset, "now": sim.state.now()}


def _faults(sim: JFrogSimulator, body: dict[str, Any]) -> tuple[int, Any]:
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
            message=body.get("message"),
        )
    return 200, sim.faults.describe()


_ACTIONS: dict[str, Callable[[JFrogSimulator, dict[str, Any]], tuple[int, Any]]] = {
    "users": _users,
    "tokens": _tokens,
    "revoke": _revoke,
    "packages": _packages,
    "latency": _latency,
    "clock": _clock,
    "faults": _faults,
}
