"""Routing primitives for the Databricks REST handlers: errors, the request object, the route table.

Handlers are plain functions ``handler(ws, req) -> dict`` registered with :func:`route`. They
run while holding ``ws.lock``, raise :class:`ApiError` for error answers and return the JSON
body of a 200 answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulators.databricks.state import Principal, WorkspaceState


class ApiError(Exception):
    """An error answer in the Databricks envelope: ``{"error_code", "message"}``."""

    def __init__(
        self,
        status: int,
        error_code: str | int,
        message: str,
        headers: dict[str, str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}
        self.payload = payload

    def body(self) -> dict[str, Any]:
        """The JSON body the server sends (``payload`` replaces the standard envelope)."""
        if self.payload is not None:
            return self.payload
        return {"error_code": self.error_code, "message": self.message}


def bad_param(message: str) -> ApiError:
    """400 INVALID_PARAMETER_VALUE."""
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def not_found(message: str) -> ApiError:
    """404 RESOURCE_DOES_NOT_EXIST."""
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def denied(message: str) -> ApiError:
    """403 PERMISSION_DENIED."""
    return ApiError(403, "PERMISSION_DENIED", message)


_MISSING = object()
ANONYMOUS = Principal("anonymous", admin=False)


@dataclass
class ApiRequest:
    """One API call: GET arguments come from the query, others from the (JSON or form) body.

    Public routes (no auth) run as :data:`ANONYMOUS`.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any]
    principal: Principal
    path_params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names

    def get(self, name: str, default: Any = None) -> Any:
        """An argument by name (first value for query strings)."""
        if self.method == "GET" or name not in self.body:
            values = self.query.get(name)
            if values:
                return values[0]
            if self.method == "GET":
                return default
        return self.body.get(name, default)

    def values(self, name: str) -> list[str]:
        """All values of a repeated (possibly dotted) query key."""
        return list(self.query.get(name, []))

    def text(self, name: str, required: bool = True) -> str:
        """A string argument; missing or non-string answers 400 INVALID_PARAMETER_VALUE."""
        value = self.get(name, _MISSING)
        if value is _MISSING or value is None or value == "":
            if required:
                raise bad_param(f"Missing required field: {name}")
            return ""
        if not isinstance(value, str):
            raise bad_param(f"Invalid value for field {name}: expected a string")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        """An optional integer argument (query strings are converted)."""
        value = self.get(name, None)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise bad_param(f"Invalid value for field {name}: expected an integer")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_param(f"Invalid value for field {name}: expected an integer") from None


Handler = Callable[[WorkspaceState, ApiRequest], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    """A registered endpoint: ``pattern`` may end with ``/{name}`` for one path parameter."""

    method: str
    pattern: str
    handler: Handler
    public: bool = False


ROUTES: list[Route] = []


def route(method: str, *patterns: str, public: bool = False) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method`` on each of ``patterns``."""

    def register(handler: Handler) -> Handler:
        for pattern in patterns:
            ROUTES.append(Route(method.upper(), pattern, handler, public))
        return handler

    return register


def match(path: str) -> tuple[list[Route], dict[str, str]]:
    """Routes whose pattern fits ``path`` (any method) and the captured path parameter."""
    found: list[Route] = []
    params: dict[str, str] = {}
    for candidate in ROUTES:
        captured = _fit(candidate.pattern, path)
        if captured is not None:
            found.append(candidate)
            params = captured
    return found, params


def _fit(pattern: str, path: str) -> dict[str, str] | None:
    if "{" not in pattern:
        return {} if pattern == path else None
    prefix, _, name = pattern.rpartition("/")
    if not path.startswith(prefix + "/"):
        return None
    tail = path[len(prefix) + 1 :]
    if not tail or "/" in tail:
        return None
    return {name.strip("{}"): tail}
