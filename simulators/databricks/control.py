"""The ``/_sim/`` control API: no auth, no latency, no faults.

``GET  /_sim/state``                   JSON dump (secret values included)
``POST /_sim/faults``                  ``{"status", "count", "path_contains", "retry_after", "hang", "method"}``,
                                       ``{"rate", "statuses", "seed"}`` or ``{"clear": true}``
``POST /_sim/clusters``                fields of ``add_cluster`` -> ``{"cluster_id"}``
``POST /_sim/clusters/<id>/state``     ``{"state": "TERMINATED"}``
``POST /_sim/tokens``                  ``{"token"?, "user"?, "admin"?, "expiry_ms"?, "comment"?}``
                                       -> ``{"token", "token_id"}``
``POST /_sim/service_principals``      ``{"client_id", "client_secret", "admin"?}``
``POST /_sim/latency``                 ``{"seconds": 0.1}``
``POST /_sim/clock``                   ``{"skew_ms": -3600000}``
"""

from __future__ import annotations

import json
from typing import Any

from simulators.databricks.state import DEFAULT_USER, WorkspaceState


class ControlError(Exception):
    """A control-API failure answered as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_CLUSTER_KEYS = {
    "cluster_id",
    "name",
    "state",
    "spark_version",
    "cluster_source",
    "spark_env_vars",
    "owner",
    "policy_id",
    "start_time",
    "last_restarted_time",
    "last_state_loss_time",
    "terminated_time",
}


def handle_control(ws: WorkspaceState, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    """Serve one ``/_sim/`` request; returns (status, JSON body)."""
    try:
        body = _parse(raw)
        return 200, _route(ws, method, path.rstrip("/"), body)
    except ControlError as exc:
        return exc.status, {"error": str(exc)}
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"error": f"{type(exc).__name__}: {exc}"}


def _parse(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ControlError(400, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def _route(ws: WorkspaceState, method: str, path: str, body: dict[str, Any]) -> Any:
    parts = path.split("/")[2:]  # after "", "_sim"
    if method == "GET" and parts == ["state"]:
        return ws.snapshot()
    if method != "POST":
        raise ControlError(404 if parts != ["state"] else 405, f"no control endpoint {method} {path}")
    if parts == ["faults"]:
        return _faults(ws, body)
    if parts == ["clusters"]:
        return _add_cluster(ws, body)
    if len(parts) == 3 and parts[0] == "clusters" and parts[2] == "state":
        try:
            ws.set_cluster_state(parts[1], str(body["state"]))
        except KeyError:
            if parts[1] not in ws.clusters:
                raise ControlError(404, f"no cluster {parts[1]}") from None
            raise
        return {"cluster_id": parts[1], "state": ws.clusters[parts[1]].state}
    if parts == ["tokens"]:
        token = str(body.get("token") or "dapi" + ws.new_hex(32))
        token_id = ws.add_token(
            token,
            user=str(body.get("user") or DEFAULT_USER),
            admin=bool(body.get("admin", True)),
            expiry_ms=body.get("expiry_ms"),
            comment=str(body.get("comment") or ""),
        )
        return {"token": token, "token_id": token_id}
    if parts == ["service_principals"]:
        ws.add_service_principal(str(body["client_id"]), str(body["client_secret"]), bool(body.get("admin", True)))
        return {"client_id": body["client_id"]}
    if parts == ["latency"]:
        seconds = float(body["seconds"])
        if seconds < 0:
            raise ControlError(400, "seconds must be >= 0")
        ws.latency = seconds
        return {"seconds": seconds}
    if parts == ["clock"]:
        ws.clock_skew_ms = int(body["skew_ms"])
        return {"skew_ms": ws.clock_skew_ms}
    raise ControlError(404, f"no control endpoint {method} {path}")


def _faults(ws: WorkspaceState, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("clear"):
        ws.faults.clear()
    elif "rate" in body:
        ws.faults.rate(
            float(body["rate"]),
            statuses=tuple(body.get("statuses") or (429, 500, 503)),
            seed=body.get("seed"),
            path_prefix=body.get("path_prefix"),
            retry_after=body.get("retry_after", 1),
        )
    elif "status" in body:
        ws.faults.add(
            body["status"],
            count=int(body.get("count", 1)),
            path_contains=str(body.get("path_contains") or ""),
            method=body.get("method"),
            retry_after=body.get("retry_after"),
            hang=float(body.get("hang", 30.0)),
            error_code=body.get("error_code"),
            message=body.get("message"),
        )
    else:
        raise ControlError(400, "give 'status', 'rate' or 'clear'")
    return {"faults": ws.faults.describe()}


def _add_cluster(ws: WorkspaceState, body: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in body.items() if k in _CLUSTER_KEYS}
    if "cluster_name" in body and "name" not in fields:
        fields["name"] = body["cluster_name"]
    extra = {k: v for k, v in body.items() if k not in _CLUSTER_KEYS and k != "cluster_name"}
    return {"cluster_id": ws.add_cluster(**fields, **extra)}
