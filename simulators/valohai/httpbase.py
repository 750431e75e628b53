"""A small loopback HTTP server base for the Valohai simulator (standard library only)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass
class Response:
    """One HTTP answer: status, body (JSON-able object, raw text or None) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE

    def encode(self) -> bytes:
        """Return the body as bytes (empty for ``None`` and for 204)."""
        if self.body is None or self.status == 204:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str) and self.content_type != JSON_TYPE:
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


def json_response(status: int, body: Any = None, **headers: str) -> Response:
    """Build a JSON :class:`Response`."""
    return Response(status=status, body=body, headers=dict(headers))


def html_response(status: int, html: str, **headers: str) -> Response:
    """Build an HTML :class:`Response`."""
    return Response(status=status, body=html, headers=dict(headers), content_type=HTML_TYPE)


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose handler threads never block shutdown."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: Any) -> None:
        self.owner = owner
        super().__init__(address, handler)


class BaseHandler(BaseHTTPRequestHandler):
    """Request handler that reads the whole body, writes :class:`Response` objects and logs nothing."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; avoid the 40 ms delayed-ACK stall
    server_version = "ValohaiSimulator/1.0"
    sys_version = ""
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests and the dashboard's console don't want access logs."""

    def read_body(self) -> bytes:
        """Read exactly Content-Length bytes, so keep-alive connections stay in sync."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def write_response(self, response: Response) -> None:
        """Send ``response`` with a correct Content-Length."""
        payload = response.encode()
        self.send_response(response.status)
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def drop_connection(self) -> None:
        """Close the socket without answering, as a timed-out proxy would."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(2)
        except OSError:
            pass


def serve_in_thread(server: LoopbackHTTPServer, name: str) -> threading.Thread:
    """Run ``server.serve_forever`` in a daemon thread and return the thread."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    return thread
