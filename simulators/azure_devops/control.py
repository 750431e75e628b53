"""The ``/_sim/`` control API, served on the vssps port: no auth, no latency, no faults.

``GET  /_sim/state``                  everything (client secret, refresh tokens and PAT values included)
``GET  /_sim/requests``               ``[[host, method, path], ...]``
``POST /_sim/faults``                 ``{"status", "count"?, "path_contains"?, "method"?, "retry_after"?, "hang"?}``
                                      | ``{"rate", "statuses"?, "seed"?, "path_prefix"?}`` | ``{"clear": true}``
``POST /_sim/latency``                ``{"seconds"}``
``POST /_sim/clock``                  ``{"offset_seconds"}`` (absolute) or ``{"advance_seconds"}``
``POST /_sim/revoke_refresh_tokens``  ``{"reason"?: "consent"|"revoked"|"expired", "user"?}`` -> ``{"revoked": n}``
``POST /_sim/redirect_uris``          ``{"uri"}`` or ``{"uris": [...]}`` (added) -> ``{"redirect_uris": [...]}``
``POST /_sim/policy``                 ``{"max_lifespan_days"?, "restrict_global"?, "restrict_full_scope"?}``
``POST /_sim/authorize_outcome``      ``{"outcome": "consent"|"access_denied"|"consent_required"|…}``
``POST /_sim/users``                  ``{"upn", "display_name"?, "organizations"?}``
``POST /_sim/sign_in``                ``{"upn"}`` (who the authorize endpoint plays)
``POST /_sim/token``                  ``{"user"?}`` -> ``{"access_token"}`` (a delegated Azure DevOps token)
``POST /_sim/options``                any of ``OPTIONS`` below
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import AzureDevOpsSimulator

OPTIONS = (
    "bad_credentials_status",
    "feed_bad_credentials_status",
    "pat_error_status",
    "require_api_version_on_get",
    "require_pkce",
    "allow_plain_pkce",
    "revoke_used_refresh_tokens",
    "consent_error",
    "access_token_lifetime",
    "auth_code_lifetime",
    "refresh_token_lifetime",
    "pat_page_size",
)


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle_control(sim: AzureDevOpsSimulator, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    try:
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ControlError(400, "body must be a JSON object")
        action = path.rstrip("/").removeprefix("/_sim").strip("/")
        if method == "GET" and action == "state":
            return 200, sim.dump()
        if method == "GET" and action == "requests":
            return 200, [list(r) for r in sim.requests]
        handler = _ACTIONS.get(action)
        if handler is None or method != "POST":
            known = handler is not None or action in ("state", "requests")
            raise ControlError(405 if known else 404, f"no control endpoint {method} {path}")
        return handler(sim, body)
    except ControlError as exc:
        return exc.status, {"message": str(exc)}
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"message": f"{type(exc).__name__}: {exc}"}


def _faults(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    if body.get("clear"):
        sim.faults.clear()
    elif "rate" in body:
        sim.faults.rate(
            float(body["rate"]),
            statuses=tuple(body.get("statuses", (429, 500, 503))),
            seed=body.get("seed"),
            path_prefix=body.get("path_prefix"),
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


def _latency(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    sim.latency = float(body.get("seconds", 0))
    return 200, {"latency": sim.latency}


def _clock(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    if "advance_seconds" in body:
        sim.set_clock_offset(sim.state.clock_offset + float(body["advance_seconds"]))
    else:
        sim.set_clock_offset(float(body["offset_seconds"]))
    return 200, {"clock_offset": sim.state.clock_offset, "now": sim.state.now().isoformat()}


def _revoke(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"revoked": sim.revoke_refresh_tokens(reason=body.get("reason", "consent"), user=body.get("user"))}


def _redirect_uris(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    uris = body.get("uris") or [body["uri"]]
    for uri in uris:
        sim.register_redirect_uri(str(uri))
    return 200, {"redirect_uris": sim.redirect_uris}


def _policy(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    sim.set_policy(**{k: body[k] for k in ("max_lifespan_days", "restrict_global", "restrict_full_scope") if k in body})
    return 200, sim.policy()


def _outcome(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    sim.set_authorize_outcome(body["outcome"])
    return 200, {"outcome": sim.authorize_outcome}


def _users(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    user = sim.add_user(body["upn"], body.get("display_name"), organizations=body.get("organizations"))
    return 201, user


def _sign_in(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    sim.sign_in_as(body["upn"])
    return 200, {"signed_in": body["upn"]}


def _token(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"access_token": sim.issue_user_token(user=body.get("user"))}


def _options(sim: AzureDevOpsSimulator, body: dict[str, Any]) -> tuple[int, Any]:
    unknown = set(body) - set(OPTIONS)
    if unknown:
        raise ControlError(400, f"unknown options: {sorted(unknown)}")
    for name, value in body.items():
        sim.set_option(name, value)
    return 200, {name: getattr(sim, name) for name in OPTIONS}


_ACTIONS = {
    "faults": _faults,
    "latency": _latency,
    "clock": _clock,
    "revoke_refresh_tokens": _revoke,
    "redirect_uris": _redirect_uris,
    "policy": _policy,
    "authorize_outcome": _outcome,
    "users": _users,
    "sign_in": _sign_in,
    "token": _token,
    "options": _options,
}
