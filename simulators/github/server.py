"""HTTP front of the GitHub simulator and the :class:`GitHubSimulator` facade.

Pipeline of an API call (everything but ``/_sim/``): record ``(method, path)``, sleep ``latency``, answer a
planned fault if one matches (no state change), authenticate (a bad, unknown or expired token is 401 ``Bad
credentials`` on any path), count the call against the user's ``core`` rate limit (403 once exhausted;
``/rate_limit`` is not counted), strip the prefix (``""`` or ``/api/v3``), route (404 / 405), require a token
(401 ``Requires authentication``), run the handler. Every answer carries the ``X-RateLimit-*`` headers, and
``github-authentication-token-expiration`` when the token has an expiry.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from simulators._common import Fault, FaultInjector, JSONRequestHandler, ServerHandle, SimHTTPServer

from . import secrets_api, variables_api  # noqa: F401 - registers the secrets and variables routes
from .api import Reply, Request, resolve
from .control import handle_control
from .faults import fault_reply, primary_limit_error
from .model import API_VERSION, ApiError, Token, not_found, render_org, render_public_key, render_repo
from .ratelimit import RateLimiter, RateView
from .state import MAX_ORG_SECRETS, MAX_REPO_SECRETS, MAX_VALUE_BYTES, State

DEFAULT_TOKEN = "ghp-sim-token"
DEFAULT_LOGIN = "admin"
DEFAULT_ORG = "acme"
JSON_TYPE = "application/json; charset=utf-8"


def credential(authorization: str) -> str | None:
    """The token of ``Bearer <token>`` or ``token <token>``; None for other schemes."""
    scheme, _, value = authorization.strip().partition(" ")
    return (value.strip() or None) if scheme.lower() in ("bearer", "token") else None


class GitHubHTTPServer(SimHTTPServer):
    """``SimHTTPServer`` with a deeper listen backlog: bursts of parallel clients are not left waiting
    for a SYN retransmission (the default backlog is 5)."""

    request_queue_size = 128


class GitHubHandler(JSONRequestHandler):
    """Serves one simulator; ``self.server.context`` is the :class:`GitHubSimulator`."""

    server_version = "GitHub.com"
    sys_version = ""

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
        sim: GitHubSimulator = self.server.context
        parts = urlsplit(self.path)
        raw = self.read_body()
        if parts.path == "/_sim" or parts.path.startswith("/_sim/"):
            status, body = handle_control(sim, self.command, parts.path, raw)
            self._send(status, json.dumps(body).encode(), JSON_TYPE, {})
            return
        sim.record(self.command, parts.path)
        if not self.pause(sim.latency):
            self.drop_connection()
            return
        authorization = self.headers.get("Authorization")
        fault = sim.faults.pick(self.command, parts.path)
        if fault is not None:
            self._answer_fault(sim, fault, authorization)
            return
        host = self.headers.get("Host") or f"{sim.host}:{sim.port}"
        query = parse_qsl(parts.query, keep_blank_values=True)
        request = Request(self.command, parts.path, query, raw, f"http://{host}", sim.prefix)
        self._reply(sim.serve(request, authorization))

    def _answer_fault(self, sim: GitHubSimulator, fault: Fault, authorization: str | None) -> None:
        if fault.status == "timeout":
            self.pause(fault.hang)
            self.drop_connection()
            return
        if not isinstance(fault.status, int):
            self.drop_connection()
            return
        token = sim.state.authenticate(credential(authorization) or "") if authorization else None
        view = sim.limiter.peek(_rate_key(token))
        answer = fault_reply(fault, token.user.id if token else None, view)
        headers = sim.common_headers(view, token)
        if isinstance(answer, str):
            self._send(fault.status, answer.encode(), "text/html; charset=utf-8", headers)
        else:
            self._reply(Reply(answer.status, answer.body, {**headers, **answer.headers}))

    def _reply(self, reply: Reply) -> None:
        if reply.status == 204 or reply.body is None:
            self._send(reply.status, b"", None if reply.status == 204 else JSON_TYPE, reply.headers)
        else:
            self._send(reply.status, json.dumps(reply.body).encode(), JSON_TYPE, reply.headers)

    def _send(self, status: int, payload: bytes, content_type: str | None, headers: dict[str, str]) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)


def _rate_key(token: Token | None) -> str:
    return "anonymous" if token is None else f"user:{token.user.login.lower()}"


class GitHubSimulator:
    """A loopback GitHub REST API (Actions secrets and what they need); see ``simulators/README.md`` (## GitHub).

    ``prefix="/api/v3"`` serves the API like GitHub Enterprise Server (nothing at the root). By default the
    organization ``acme`` exists and token ``ghp-sim-token`` (user ``admin``) administers it; ``org=None`` /
    ``token=None`` seed nothing.
    """

    def __init__(
        self,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "",
        token: str | None = DEFAULT_TOKEN,
        login: str = DEFAULT_LOGIN,
        org: str | None = DEFAULT_ORG,
        rate_limit: int = 5000,
        rate_window: float = 3600.0,
        seed: int | None = 0,
        max_value_bytes: int = MAX_VALUE_BYTES,
        max_org_secrets: int = MAX_ORG_SECRETS,
        max_repo_secrets: int = MAX_REPO_SECRETS,
    ) -> None:
        self.state = State(seed, max_value_bytes, max_org_secrets, max_repo_secrets)
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.faults = FaultInjector(seed=seed)
        self.latency = float(latency)
        self.host = host
        self.port = port
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.requests: list[tuple[str, str]] = []
        self._requests_lock = threading.Lock()
        self._handle: ServerHandle | None = None
        if org:
            self.state.add_org(org)
        if token:
            self.state.add_token(token, login, admin_of=[org] if org else [])

    # ---- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> GitHubSimulator:
        """Bind (port 0 = a free port) and serve on a daemon thread."""
        if self._handle is None:
            self._handle = ServerHandle(GitHubHTTPServer((self.host, self.port), GitHubHandler, context=self))
            self.port = self._handle.port
        return self

    def stop(self) -> None:
        """Stop serving; hanging handlers are released (idempotent)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.stop()

    def __enter__(self) -> GitHubSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no prefix, no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The base URL clients use: ``url`` + ``prefix``."""
        return self.url + self.prefix

    # ---- request pipeline ----------------------------------------------------------------------------------

    def record(self, method: str, path: str) -> None:
        """Log an API call as ``(method, path)`` (the path as received, prefix included, no query)."""
        with self._requests_lock:
            self.requests.append((method, path))

    def common_headers(self, view: RateView, token: Token | None) -> dict[str, str]:
        """Headers of every API answer."""
        headers = {
            "X-GitHub-Api-Version-Selected": API_VERSION,
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Request-Id": uuid.uuid4().hex[:20].upper(),
            **view.headers(),
        }
        expiration = token.expiration_header() if token else None
        if expiration:
            headers["github-authentication-token-expiration"] = expiration
        return headers

    def serve(self, request: Request, authorization: str | None) -> Reply:
        """Authenticate, rate-limit, route and run one API call."""
        token: Token | None = None
        view: RateView | None = None
        try:
            if authorization is not None:
                token = self.state.authenticate(credential(authorization) or "")
                if token is None:
                    raise ApiError(401, "Bad credentials")
            inner = self._strip_prefix(request.path)
            if token is not None:
                if inner == "/rate_limit":
                    view = self.limiter.peek(_rate_key(token))
                else:
                    allowed, view = self.limiter.consume(_rate_key(token))
                    if not allowed:
                        raise primary_limit_error(token.user.id, view)
            if inner is None:
                raise not_found()
            handler, params = resolve(request.method, inner)
            if token is None:
                raise ApiError(401, "Requires authentication")
            request.path, request.token, request.rate = inner, token, view
            with self.state.lock:  # one API call at a time against the state, like one database transaction
                reply = handler(self.state, request, **params)
        except ApiError as exc:
            reply = Reply(exc.status, exc.body(), exc.headers)
        except Exception as exc:  # noqa: BLE001 - a simulator bug answers 500 rather than dropping the connection
            reply = Reply(500, ApiError(500, f"Server Error (simulator bug: {exc!r})").body())
        if view is None:
            key = _rate_key(token)
            view = self.limiter.consume(key, refuse=False)[1] if token is None else self.limiter.peek(key)
        reply.headers = {**self.common_headers(view, token), **reply.headers}
        return reply

    def _strip_prefix(self, path: str) -> str | None:
        if not self.prefix:
            return path
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return path[len(self.prefix) :] or "/"
        return None

    # ---- seeding and inspection ----------------------------------------------------------------------------

    def add_token(
        self,
        token: str,
        login: str,
        expires_at: datetime | str | None = None,
        admin_of: list[str] | tuple[str, ...] = (),
        member_of: list[str] | tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Make ``token`` authenticate as ``login``; ``admin_of`` orgs may manage secrets, ``member_of`` see
        private repositories. ``expires_at`` (datetime, ``"2026-12-31 00:00:00 UTC"`` or ISO) adds the expiry
        header; once past, the token is ``Bad credentials``."""
        record = self.state.add_token(token, login, expires_at, admin_of, member_of)
        return {
            "token": token,
            "login": record.user.login,
            "id": record.user.id,
            "expires_at": record.expiration_header(),
        }

    def add_org(self, login: str) -> dict[str, Any]:
        """Create an organization (idempotent); returns it as ``GET /orgs/{org}`` shows it."""
        return render_org(self.state.add_org(login), self.api_url)

    def add_repo(self, org: str, name: str, visibility: str = "private") -> dict[str, Any]:
        """Create a repository (``public``/``private``/``internal``) with its own key pair; returns its API view."""
        return render_repo(self.state.add_repo(org, name, visibility), self.api_url)

    def rotate_key(self, org: str, repo: str | None = None) -> str:
        """Give the organization (or repository) a new key pair; returns the new key_id (the old one is refused)."""
        return self.state.rotate_key(org, repo).key_id

    def public_key(self, org: str, repo: str | None = None) -> dict[str, str]:
        """``{"key_id", "key"}`` of an organization or repository."""
        target = self.state.org(org) if repo is None else self.state.repo(org, repo)
        if target is None:
            raise KeyError(f"no such organization or repository: {org}/{repo or ''}")
        return render_public_key(target.keys)

    def secret(self, org: str, name: str, repo: str | None = None) -> dict[str, Any] | None:
        """A stored secret with its plaintext (``value``), visibility and selected repository ids; or None."""
        with self.state.lock:
            owner = self.state.org(org) if repo is None else self.state.repo(org, repo)
            found = None if owner is None else self.state.find_secret(owner.secrets, name)
            return None if found is None else found.dump()

    def secret_value(self, org: str, name: str) -> str | None:
        """The decrypted value of an organization secret (tests only), or None."""
        found = self.secret(org, name)
        return None if found is None else str(found["value"])

    def repo_secret_value(self, org: str, repo: str, name: str) -> str | None:
        """The decrypted value of a repository secret (tests only), or None."""
        found = self.secret(org, name, repo=repo)
        return None if found is None else str(found["value"])

    def set_rate_limit(self, limit: int | None = None, window: float | None = None) -> None:
        """Change the primary limit (requests per window) and/or the window in seconds; counters restart."""
        self.limiter.configure(limit, window)

    def set_rate_used(self, login: str, used: int) -> RateView:
        """Pretend ``login`` already made ``used`` calls this window (``used=limit`` exhausts the limit)."""
        return self.limiter.set_used(f"user:{login.lower()}", used)

    def dump(self) -> dict[str, Any]:
        """The ``GET /_sim/state`` body."""
        with self._requests_lock:
            requests = [list(r) for r in self.requests]
        return {
            **self.state.dump(),
            "prefix": self.prefix,
            "latency": self.latency,
            "rate_limit": self.limiter.snapshot(),
            "faults": self.faults.describe(),
            "requests": requests,
        }
