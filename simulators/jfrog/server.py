"""HTTP front of the JFrog simulator and the :class:`JFrogSimulator` facade.

Pipeline of an API call (everything but ``/_sim/``): record ``(method, path)``, sleep ``latency``, answer a planned
fault if one matches (no state change), then route: ``/access/…`` to the Access token API, ``/artifactory/…`` to
Artifactory (ping and PyPI); each authenticates its own way and runs under the state lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from simulators._common import Fault, FaultInjector, JSONRequestHandler, ServerHandle, SimHTTPServer

from .access_api import create_body, handle_access
from .artifactory_api import handle_artifactory
from .control import handle_control
from .model import Reply, Request, access_body, artifactory_body
from .state import Policy, State
from .tokens import ADMIN_SCOPE, USER_SCOPE

__all__ = ["ADMIN_USER", "DEFAULT_REPO", "DEFAULT_USER", "JFrogSimulator"]

ADMIN_USER = "admin"
DEFAULT_USER = "feedkeeper"
DEFAULT_REPO = "pypi-local"
READERS = "readers"
FAULT_MESSAGES = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class JFrogHTTPServer(SimHTTPServer):
    """``SimHTTPServer`` with a deeper listen backlog for bursts of parallel clients."""

    request_queue_size = 128


class JFrogHandler(JSONRequestHandler):
    """Serves one simulator; ``self.server.context`` is the :class:`JFrogSimulator`."""

    server_version = "Artifactory"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        sim: JFrogSimulator = self.server.context
        path, query = self.split_path()
        raw = self.read_body()
        if path == "/_sim" or path.startswith("/_sim/"):
            status, body = handle_control(sim, self.command, path, raw)
            self.send_json(status, body)
            return
        sim.record(self.command, path)
        if not self.pause(sim.latency):
            self.drop_connection()
            return
        fault = sim.faults.pick(self.command, path)
        if fault is not None:
            self._answer_fault(fault, path)
            return
        pairs = [(k, v) for k, values in query.items() for v in values]
        request = Request(self.command, path, pairs, self.headers, raw)
        try:
            reply = sim.serve(request)
        except Exception as exc:  # noqa: BLE001 - a simulator bug answers 500 rather than dropping the connection
            reply = Reply.json(500, access_body(500, f"simulator bug: {exc!r}"))
        self._send(reply)

    def _answer_fault(self, fault: Fault, path: str) -> None:
        if fault.status == "timeout":
            self.pause(fault.hang)
            self.drop_connection()
            return
        if not isinstance(fault.status, int):
            self.drop_connection()
            return
        status = fault.status
        message = fault.message or FAULT_MESSAGES.get(status, f"Simulated fault (HTTP {status})")
        body = access_body(status, message) if path.startswith("/access/") else artifactory_body(status, message)
        headers: dict[str, str] = {}
        retry_after = fault.retry_after if fault.retry_after is not None else (1 if status == 429 else None)
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after))
        self._send(Reply.json(status, body, headers))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.content_type and reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(0 if reply.status == 204 else len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.body and reply.status != 204 and self.command != "HEAD":
            self.wfile.write(reply.body)


class JFrogSimulator:
    """A loopback JFrog Platform (Access token API plus an Artifactory PyPI repository); README ``## JFrog``.

    Seeds user ``admin`` (admin; ``admin_token`` is a non-expiring ``applied-permissions/admin`` token), user
    ``feedkeeper`` (not admin, in group ``readers``; ``user_token`` is a non-expiring identity token) and the PyPI
    repository ``repo`` (readable by ``readers``) holding ``feedkeeper-probe`` 1.0.0. Keyword arguments beyond the
    first few are :class:`Policy` fields.
    """

    def __init__(
        self,
        latency: float = 0.0,
        seed: int | None = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        repo: str = DEFAULT_REPO,
        user: str | None = DEFAULT_USER,
        packages: list[tuple[str, str]] | None = None,
        **policy: Any,
    ) -> None:
        self.state = State(seed, Policy(**policy))
        self.faults = FaultInjector(seed=seed, rate_path_prefix="/")
        self.latency = float(latency)
        self.host = host
        self.port = port
        self.repo = repo
        self.username = user
        self.requests: list[tuple[str, str]] = []
        self._requests_lock = threading.Lock()
        self._handle: ServerHandle | None = None
        self.state.add_user(ADMIN_USER, admin=True)
        self.admin_token = self.state.issue(ADMIN_USER, scope=ADMIN_SCOPE, expires_in=0).access_token
        self.state.add_repo(repo, read_groups=[READERS], packages=packages)
        self.user_token: str | None = self.add_user(user) if user else None

    # ---- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> JFrogSimulator:
        """Bind (port 0 = a free port) and serve on a daemon thread."""
        if self._handle is None:
            self._handle = ServerHandle(JFrogHTTPServer((self.host, self.port), JFrogHandler, context=self))
            self.port = self._handle.port
        return self

    def stop(self) -> None:
        """Stop serving; hanging handlers are released (idempotent)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.stop()

    def __enter__(self) -> JFrogSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (the platform base URL: ``/access/…`` and ``/artifactory/…`` hang off it)."""
        return f"http://{self.host}:{self.port}"

    def index_url(self, repo: str | None = None) -> str:
        """The PyPI simple index of ``repo`` (default: the seeded one), without credentials."""
        return f"{self.url}/artifactory/api/pypi/{repo or self.repo}/simple/"

    @property
    def policy(self) -> Policy:
        """The platform settings and simulator choices; change fields at will."""
        return self.state.policy

    # ---- request pipeline ------------------------------------------------------------------------------------

    def record(self, method: str, path: str) -> None:
        with self._requests_lock:
            self.requests.append((method, path))

    def serve(self, request: Request) -> Reply:
        if request.path.startswith("/access/"):
            return handle_access(self.state, request)
        if request.path.startswith("/artifactory/"):
            return handle_artifactory(self.state, request)
        return Reply.json(404, artifactory_body(404, "Not Found"))

    # ---- seeding and helpers ---------------------------------------------------------------------------------

    def add_user(self, name: str, admin: bool = False, groups: Iterable[str] = (READERS,)) -> str:
        """Create (or update) a user and return a fresh non-expiring identity token (``applied-permissions/user``)
        for it. ``groups`` defaults to ``readers`` (read access to the seeded repository)."""
        self.state.add_user(name, admin=admin, groups=groups)
        return self.state.issue(name, scope=USER_SCOPE, expires_in=0).access_token

    def add_repo(
        self, key: str, read_groups: Iterable[str] = (READERS,), packages: list[tuple[str, str]] | None = None
    ) -> None:
        """Add a PyPI repository (``packages=None`` seeds ``feedkeeper-probe`` 1.0.0)."""
        self.state.add_repo(key, read_groups=read_groups, packages=packages)

    def add_package(self, name: str, version: str, repo: str | None = None) -> str:
        """Add a generated wheel to a repository; returns its file name."""
        with self.state.lock:
            return self.state.repos[repo or self.repo].index.add(name, version).filename

    def mint(
        self,
        username: str,
        expires_in: int | None = None,
        scope: str = USER_SCOPE,
        refreshable: bool = False,
        description: str | None = None,
        include_reference_token: bool = False,
        force_revocable: bool = False,
    ) -> dict[str, Any]:
        """Issue a token without the API's permission and expiry rules (persistency rules still apply); returns
        the Create Token answer. ``expires_in=None`` = the default expiry, 0 = never."""
        with self.state.lock:
            if username not in self.state.users:
                self.state.add_user(username, transient=True)
            record = self.state.issue(
                username,
                scope=scope,
                expires_in=expires_in,
                refreshable=refreshable,
                description=description,
                include_reference_token=include_reference_token,
                force_revocable=force_revocable,
            )
            return create_body(record)

    def revoke(self, token_or_id: str) -> bool:
        """Revoke a token by id, access token or reference token, whatever the rules; False if unknown."""
        with self.state.lock:
            record = self.state.tokens.get(token_or_id) or self.state.find(token_or_id)[0]
            if record is None or record.revoked:
                return False
            self.state.revoke(record, "sim")
            return True

    def tokens(self) -> list[dict[str, Any]]:
        """Every issued token (saved or not): ids, username, subject, scope, expiry, persisted, revocable, revoked,
        live, values."""
        return list(self.state.dump()["tokens"])

    def token(self, token_or_id: str) -> dict[str, Any] | None:
        """One token's record by id, access token or reference token; None if unknown."""
        with self.state.lock:
            record = self.state.tokens.get(token_or_id) or self.state.find(token_or_id)[0]
            return None if record is None else record.dump(self.state.now())

    def is_live(self, token: str) -> bool:
        """Whether an access or reference token would authenticate now (known, not revoked, not expired)."""
        return self.state.find(token)[1] == "ok"

    def set_clock_offset(self, seconds: float) -> None:
        """Shift the simulator's clock (issue times, expiry checks) by ``seconds`` from the wall clock."""
        with self.state.lock:
            self.state.clock_offset = float(seconds)

    def now(self) -> int:
        """The simulator's clock, epoch seconds."""
        return self.state.now()

    def dump(self) -> dict[str, Any]:
        """The ``GET /_sim/state`` body."""
        with self._requests_lock:
            requests = [list(r) for r in self.requests]
        return {
            **self.state.dump(),
            "url": self.url,
            "repo": self.repo,
            "latency": self.latency,
            "faults": self.faults.describe(),
            "requests": requests,
        }
