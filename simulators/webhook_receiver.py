"""A loopback receiver of incoming webhooks (Feedkeeper's own JSON, Slack, Teams): it records every POST and
answers with the statuses it is told to (by default ``200 ok``, as Slack does). Standard library only; for tests
and the demo.

    receiver = WebhookReceiver().start()
    receiver.url("/hooks/T000/B000/XXXX")   # http://127.0.0.1:<port>/hooks/T000/B000/XXXX
    receiver.answers = [500, 500, 200]      # the next answers, then 200 again
    receiver.received                       # [Received(path, headers, body), ...]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 (an ephemeral port) that records POSTs."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                payload = b"ok" if status < 300 else b"internal_error"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.json() for r in self.received]


if __name__ == "__main__":
    import time

    r = WebhookReceiver().start()
    print(r.url(), flush=True)
    while True:
        time.sleep(3600)
