"""Generic building blocks shared by the loopback simulators (standard library only).

This module is a small, stable API; other simulators may import from it. Nothing here knows
about a particular platform.

``SimHTTPServer(address, handler_cls, context=None)``
    A ``ThreadingHTTPServer`` with daemon threads that tracks its open connections, carries an
    arbitrary ``context`` object for its handlers and a ``stop_event`` that is set on stop.

``ServerHandle`` / ``start_server(handler_cls, host="127.0.0.1", port=0, context=None)``
    Bind (``port=0`` picks a free port), serve on a daemon thread and return a handle with
    ``.host``, ``.port``, ``.url`` (``http://host:port``) and ``.stop()``. ``stop()`` ends the
    serve loop, wakes any sleeping handler (latency, hanging faults), closes kept-alive
    connections and the listening socket. It is idempotent.

``JSONRequestHandler``
    A ``BaseHTTPRequestHandler`` base (HTTP/1.1, quiet logging) with helpers:
    ``split_path() -> (path, query: dict[str, list[str]])``, ``read_body() -> bytes`` (always read
    the body before answering), ``send_json(status, body, headers=None)`` (``body=None`` sends an
    empty body), ``drop_connection()`` (answer nothing and close) and
    ``pause(seconds) -> bool`` (sleep, cut short by server stop; False when stopped).

``Fault`` / ``FaultInjector(seed=0, rate_path_prefix="")``
    Thread-safe fault plans. ``add(status, count=1, path_contains="", method=None,
    retry_after=None, hang=30.0, error_code=None, message=None)`` queues a fault for the next
    ``count`` matching requests; ``status`` is an HTTP status int, ``"timeout"`` (hang ``hang``
    seconds, then drop the connection) or ``"drop"`` (close at once). ``rate(rate,
    statuses=(429, 500, 503), seed=None, path_prefix=None, retry_after=1)`` adds random faults at
    ``rate`` (0..1) from a seeded RNG to paths starting with ``path_prefix`` (None = the
    injector's ``rate_path_prefix``); ``rate(0)`` switches them off. ``clear()`` removes all.
    ``pick(method, path) -> Fault | None`` consumes the fault for one request (queued faults
    first, in the order added). ``describe() -> dict`` is a JSON-friendly view.
"""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "Fault",
    "FaultInjector",
    "JSONRequestHandler",
    "ServerHandle",
    "SimHTTPServer",
    "start_server",
]

FaultStatus = int | str


class SimHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server that remembers its connections so ``close_all`` can cut them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler_cls: type[BaseHTTPRequestHandler],
        context: Any = None,
    ) -> None:
        self.context = context
        self.stop_event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler_cls)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_all(self) -> None:
        """Shut down every open client connection (idle keep-alive ones included)."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ServerHandle:
    """A running ``SimHTTPServer`` on a daemon thread."""

    def __init__(self, server: SimHTTPServer) -> None:
        self.server = server
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sim-{self.port}",
            daemon=True,
        )
        self._stopped = False
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers, cut connections and close the socket."""
        if self._stopped:
            return
        self._stopped = True
        self.server.stop_event.set()
        self.server.shutdown()
        self.server.close_all()
        self.server.server_close()
        self._thread.join(timeout=5)


def start_server(
    handler_cls: type[BaseHTTPRequestHandler],
    host: str = "127.0.0.1",
    port: int = 0,
    context: Any = None,
) -> ServerHandle:
    """Bind ``host:port`` (0 = any free port) and serve on a daemon thread."""
    return ServerHandle(SimHTTPServer((host, port), handler_cls, context))


class JSONRequestHandler(BaseHTTPRequestHandler):
    """Request handler base with JSON helpers; subclasses implement ``do_GET`` etc."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: SimHTTPServer
    timeout = 60  # seconds an idle keep-alive connection is kept

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; simulators record requests themselves."""

    def split_path(self) -> tuple[str, dict[str, list[str]]]:
        """Return the path without query string and the parsed query (repeated keys kept)."""
        parts = urlsplit(self.path)
        return parts.path, parse_qs(parts.query, keep_blank_values=True)

    def read_body(self) -> bytes:
        """Read the request body (by Content-Length); call once before answering."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_json(
        self,
        status: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Send ``body`` as JSON (``None`` = empty body) with an exact Content-Length."""
        payload = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def drop_connection(self) -> None:
        """Answer nothing and close the connection once the handler returns."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the server stops first; return False if it stopped."""
        if seconds <= 0:
            return not self.server.stop_event.is_set()
        return not self.server.stop_event.wait(seconds)


@dataclass
class Fault:
    """One injected failure: an HTTP status, or ``"timeout"`` / ``"drop"``."""

    status: FaultStatus
    retry_after: int | None = None
    hang: float = 30.0
    error_code: str | None = None
    message: str | None = None


@dataclass
class _QueuedFault:
    fault: Fault
    remaining: int
    path_contains: str = ""
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path_contains in path


@dataclass
class _RateFault:
    rate: float
    statuses: tuple[FaultStatus, ...]
    rng: random.Random
    path_prefix: str = ""
    retry_after: int | None = 1
    seed: int | None = None
    fired: int = field(default=0)


class FaultInjector:
    """Thread-safe queue of planned faults plus an optional random fault rate."""

    def __init__(self, seed: int | None = 0, rate_path_prefix: str = "") -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self.rate_path_prefix = rate_path_prefix
        self._queued: list[_QueuedFault] = []
        self._rate: _RateFault | None = None

    def add(
        self,
        status: FaultStatus,
        count: int = 1,
        path_contains: str = "",
        method: str | None = None,
        retry_after: int | None = None,
        hang: float = 30.0,
        error_code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests whose path contains ``path_contains`` with a fault."""
        _check_status(status)
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(status, retry_after, float(hang), error_code, message)
        with self._lock:
            self._queued.append(_QueuedFault(fault, int(count), path_contains, method))

    def rate(
        self,
        rate: float,
        statuses: tuple[FaultStatus, ...] | list[FaultStatus] = (429, 500, 503),
        seed: int | None = None,
        path_prefix: str | None = None,
        retry_after: int | None = 1,
    ) -> None:
        """Fail a random share ``rate`` of requests under ``path_prefix``; 0 switches it off."""
        if path_prefix is None:
            path_prefix = self.rate_path_prefix
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        statuses = tuple(statuses)
        if not statuses:
            raise ValueError("statuses must not be empty")
        for status in statuses:
            _check_status(status)
        seed = self._seed if seed is None else seed
        with self._lock:
            self._rate = (
                _RateFault(rate, statuses, random.Random(seed), path_prefix, retry_after, seed) if rate > 0 else None
            )

    def clear(self) -> None:
        """Remove all queued faults and the random rate."""
        with self._lock:
            self._queued.clear()
            self._rate = None

    def pick(self, method: str, path: str) -> Fault | None:
        """Return (and consume) the fault for this request, or None to serve it normally."""
        with self._lock:
            for queued in self._queued:
                if queued.matches(method, path):
                    queued.remaining -= 1
                    if queued.remaining <= 0:
                        self._queued.remove(queued)
                    return queued.fault
            plan = self._rate
            if plan is not None and path.startswith(plan.path_prefix):
                if plan.rng.random() < plan.rate:
                    plan.fired += 1
                    return Fault(plan.rng.choice(plan.statuses), plan.retry_after)
        return None

    def describe(self) -> dict[str, Any]:
        """JSON-friendly view of the pending faults."""
        with self._lock:
            queued = [
                {
                    "status": q.fault.status,
                    "remaining": q.remaining,
                    "path_contains": q.path_contains,
                    "method": q.method,
                    "retry_after": q.fault.retry_after,
                    "hang": q.fault.hang,
                }
                for q in self._queued
            ]
            rate = (
                None
                if self._rate is None
                else {
                    "rate": self._rate.rate,
                    "statuses": list(self._rate.statuses),
                    "path_prefix": self._rate.path_prefix,
                    "seed": self._rate.seed,
                    "fired": self._rate.fired,
                }
            )
        return {"queued": queued, "rate": rate}


def _check_status(status: FaultStatus) -> None:
    if isinstance(status, bool) or not (
        (isinstance(status, int) and 100 <= status <= 599) or status in ("timeout", "drop")
    ):
        raise ValueError(f"unsupported fault status {status!r}: use an HTTP status, 'timeout' or 'drop'")
