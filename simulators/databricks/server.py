"""HTTP front of the Databricks simulator: one ThreadingHTTPServer per workspace.

Request pipeline (everything except ``/_sim/``): record ``(method, path)`` in ``ws.requests``,
sleep ``ws.latency``, answer a planned fault if one matches (state untouched), authenticate,
route, run the handler under ``ws.lock``, answer JSON. Every answer carries
``X-Databricks-Org-Id``.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulators._common import Fault, JSONRequestHandler, ServerHandle, start_server
from simulators.databricks import (  # noqa: F401 - routes
    compute_api,
    identity_api,
    policies_api,
    secrets_api,
    workloads_api,
)
from simulators.databricks.api import ANONYMOUS, ApiError, ApiRequest, match
from simulators.databricks.control import handle_control
from simulators.databricks.state import DEFAULT_TOKEN, Principal, WorkspaceState

INVALID_TOKEN = "Invalid access token."
FAULT_BODIES: dict[int, tuple[str, str]] = {
    400: ("BAD_REQUEST", "Bad request (simulated fault)."),
    401: ("UNAUTHENTICATED", "Credential was not sent or was of an unsupported type (simulated fault)."),
    404: ("NOT_FOUND", "Not found (simulated fault)."),
    409: ("RESOURCE_CONFLICT", "Conflict (simulated fault)."),
    429: ("REQUEST_LIMIT_EXCEEDED", "Request limit exceeded for this workspace (simulated fault)."),
    500: ("INTERNAL_ERROR", "Internal error (simulated fault)."),
    502: ("BAD_GATEWAY", "Bad gateway (simulated fault)."),
    503: ("TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable (simulated fault)."),
    504: ("DEADLINE_EXCEEDED", "The request timed out upstream (simulated fault)."),
}


def invalid_token() -> ApiError:
    """The 403 a bad or expired token gets: integer error_code plus the reason-phrase header."""
    return ApiError(403, 403, INVALID_TOKEN, headers={"X-Databricks-Reason-Phrase": INVALID_TOKEN})


class DatabricksRequestHandler(JSONRequestHandler):
    """Serves one workspace; ``self.server.context`` is its :class:`WorkspaceState`."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    @property
    def ws(self) -> WorkspaceState:
        """The workspace this server speaks for."""
        state: WorkspaceState = self.server.context
        return state

    def _dispatch(self) -> None:
        path, query = self.split_path()
        raw = self.read_body()
        ws = self.ws
        if path == "/_sim" or path.startswith("/_sim/"):
            status, body = handle_control(ws, self.command, path, raw)
            self.send_json(status, body)
            return
        ws.record(self.command, path)
        if not self.pause(ws.latency):
            self.drop_connection()
            return
        fault = ws.faults.pick(self.command, path)
        if fault is not None:
            self._answer_fault(fault)
            return
        try:
            result = self._serve(ws, path, query, raw)
        except ApiError as exc:
            self._send(exc.status, exc.body(), exc.headers)
            return
        self._send(200, result)

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.send_json(status, body, {"X-Databricks-Org-Id": self.ws.workspace_id, **(headers or {})})

    def _serve(self, ws: WorkspaceState, path: str, query: dict[str, list[str]], raw: bytes) -> Any:
        routes, params = match(path)
        public = any(r.public for r in routes)
        principal = ANONYMOUS if public else self._authenticate(ws)
        if not routes:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{self.command} {path}'")
        chosen = next((r for r in routes if r.method == self.command), None)
        if chosen is None:
            allowed = ", ".join(sorted({r.method for r in routes}))
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"Method {self.command} is not allowed for {path}; use {allowed}.",
                headers={"Allow": allowed},
            )
        request = ApiRequest(
            method=self.command,
            path=path,
            query=query,
            body=self._parse_body(raw),
            principal=principal,
            path_params=params,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        with ws.lock:
            return chosen.handler(ws, request)

    def _authenticate(self, ws: WorkspaceState) -> Principal:
        header = self.headers.get("Authorization")
        if not header:
            raise ApiError(
                401,
                "UNAUTHENTICATED",
                "Credential was not sent or was of an unsupported type for this API.",
            )
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise invalid_token()
        principal = ws.authenticate(token.strip())
        if principal is None:
            raise invalid_token()
        return principal

    def _parse_body(self, raw: bytes) -> dict[str, Any]:
        if self.command == "GET" or not raw.strip():
            return {}
        content_type = (self.headers.get("Content-Type") or "").lower()
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
            return {k: v[0] for k, v in form.items()}
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError(
                400,
                "MALFORMED_REQUEST",
                "Invalid JSON given in the body of the request - expected a map",
            )
        return body

    def _answer_fault(self, fault: Fault) -> None:
        if fault.status == "timeout":
            self.pause(fault.hang)
            self.drop_connection()
            return
        if fault.status == "drop" or not isinstance(fault.status, int):
            self.drop_connection()
            return
        status = fault.status
        headers: dict[str, str] = {}
        if status == 403 and fault.error_code is None:
            error = invalid_token()
            body: dict[str, Any] = error.body()
            headers.update(error.headers)
        else:
            code, message = FAULT_BODIES.get(status, ("UNKNOWN", f"Simulated fault {status}."))
            body = {"error_code": fault.error_code or code, "message": fault.message or message}
        if status == 429 or fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after if fault.retry_after is not None else 1))
        self._send(status, body, headers)


CLUSTER_SEED = (
    ("shared-etl", "RUNNING", "UI"),
    ("analytics", "TERMINATED", "UI"),
    ("job-nightly-ingest-run-1", "RUNNING", "JOB"),
    ("ml-training", "RUNNING", "API"),
    ("reporting", "TERMINATED", "UI"),
)


def seed_clusters(ws: WorkspaceState, count: int) -> list[str]:
    """Seed ``count`` DBR 15.4 clusters: a mix of RUNNING and TERMINATED plus one JOB cluster."""
    ids = []
    for i in range(count):
        name, state, source = CLUSTER_SEED[i % len(CLUSTER_SEED)]
        if i >= len(CLUSTER_SEED):
            name = f"{name}-{i // len(CLUSTER_SEED) + 1}"
            source = "UI" if source == "JOB" else source
        ids.append(ws.add_cluster(name=name, state=state, cluster_source=source))
    return ids


class DatabricksSimulator:
    """Loopback Databricks REST API: ``workspaces`` independent workspaces, one port each.

    ``port=0`` binds free ports; any other value binds ``port, port+1, ...``. ``token`` is the
    admin PAT every workspace accepts from the start (None for none). ``clusters`` seeds that
    many clusters per workspace. ``latency`` is seconds slept per API request.
    """

    def __init__(
        self,
        workspaces: int = 1,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = DEFAULT_TOKEN,
        seed: int = 0,
        clusters: int = 0,
    ) -> None:
        if workspaces < 1:
            raise ValueError("workspaces must be at least 1")
        self.host = host
        self.port = port
        self.token = token
        self.workspaces: list[WorkspaceState] = [
            WorkspaceState(index=i, seed=seed, default_token=token, latency=latency) for i in range(workspaces)
        ]
        for ws in self.workspaces:
            seed_clusters(ws, clusters)
        self._handles: list[ServerHandle] = []

    def start(self) -> DatabricksSimulator:
        """Bind and serve every workspace on daemon threads."""
        if self._handles:
            return self
        try:
            for i, ws in enumerate(self.workspaces):
                port = self.port + i if self.port else 0
                handle = start_server(DatabricksRequestHandler, self.host, port, context=ws)
                ws.url = handle.url
                self._handles.append(handle)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every server (idempotent)."""
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.stop()

    @property
    def urls(self) -> list[str]:
        """One ``http://host:port`` per workspace, in order."""
        return [ws.url for ws in self.workspaces]

    def workspace(self, index: int) -> WorkspaceState:
        """State of workspace ``index`` (0-based)."""
        return self.workspaces[index]

    def workspace_by_url(self, url: str) -> WorkspaceState:
        """State of the workspace served at ``url`` (matched on host and port, else on port)."""
        wanted = urlsplit(url.rstrip("/") if "://" in url else f"http://{url}")
        for ws in self.workspaces:
            if ws.url.rstrip("/") == f"{wanted.scheme}://{wanted.netloc}":
                return ws
        for ws in self.workspaces:
            if ws.url and urlsplit(ws.url).port == wanted.port:
                return ws
        raise KeyError(f"no simulated workspace at {url}")

    def set_latency(self, seconds: float) -> None:
        """Set the per-request latency of every workspace."""
        for ws in self.workspaces:
            ws.latency = float(seconds)

    def __enter__(self) -> DatabricksSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
