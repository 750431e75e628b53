"""The Valohai simulator: a loopback HTTP server speaking the Valohai REST API, with latency and faults."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

from .api import Request, ValohaiAPI
from .faults import FaultRule, Faults
from .httpbase import BaseHandler, LoopbackHTTPServer, Response, html_response, json_response, serve_in_thread
from .model import EXISTS_MESSAGE, FORBIDDEN, NOT_FOUND, ApiError, check_exists_status, check_project_owner
from .state import State

DEFAULT_TOKEN = "vh-sim-token"
DEFAULT_USERNAME = "admin"
DEFAULT_GROUP_PATH = "/api/v0/environment-variable-groups/"
SERVER_ERROR_HTML = "<!DOCTYPE html>\n<html><body><h1>Server Error ({status})</h1></body></html>"


def fault_response(rule: FaultRule) -> Response:
    """The answer for an injected HTTP-status fault (docs/platforms.md §2.5 shapes)."""
    status = int(rule.status)
    headers: dict[str, str] = {}
    if rule.retry_after is not None or status == 429:
        headers["Retry-After"] = str(rule.retry_after if rule.retry_after is not None else 1)
    if status >= 500:
        return html_response(status, SERVER_ERROR_HTML.format(status=status), **headers)
    if status == 429:
        wait = int(headers["Retry-After"])
        unit = "second" if wait == 1 else "seconds"
        return json_response(429, {"detail": f"Request was throttled. Expected available in {wait} {unit}."}, **headers)
    if status == 401:
        return json_response(401, {"detail": "Invalid token."}, **{"WWW-Authenticate": "Token", **headers})
    bodies: dict[int, Any] = {400: {"non_field_errors": ["Simulated fault."]}, 403: FORBIDDEN, 404: NOT_FOUND}
    return json_response(status, bodies.get(status, {"detail": f"Simulated fault (HTTP {status})."}), **headers)


class ValohaiHandler(BaseHandler):
    """Serves ``/_sim/`` control calls directly and API calls after latency and fault injection."""

    def dispatch(self) -> None:
        """Handle any method."""
        sim: ValohaiSimulator = self.server.owner
        split = urlsplit(self.path)
        body = self.read_body()
        host = self.headers.get("Host") or f"{sim.host}:{sim.port}"
        request = Request(self.command, split.path, split.query, self.headers, body, f"http://{host}")
        if split.path.startswith("/_sim/"):
            self.write_response(sim.control(request))
            return
        sim.record(request)
        latency = sim.latency
        if latency > 0:
            sim.stopping.wait(latency)
        fault = sim.faults.pick(request.method, request.path)
        if fault is None:
            self.write_response(sim.api.handle(request))
        elif fault.status == "reset":
            self.drop_connection()
        elif fault.status in ("timeout", "commit_then_timeout"):
            if fault.status == "commit_then_timeout":
                sim.api.handle(request)  # the write happens; its answer is lost
            sim.stopping.wait(fault.hang)
            self.drop_connection()
        else:
            self.write_response(fault_response(fault))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = dispatch


class ValohaiSimulator:
    """A loopback Valohai API server; see ``simulators/README.md`` (## Valohai) for the full contract.

    ``group_path=None`` removes the environment-variable-group endpoint (404). By default a POST of an existing env
    var name is refused (``exists_status`` 400 or 409, worded ``exists_message``), so clients must delete and
    re-create; ``overwrite_existing=True`` makes it overwrite (200). ``project_owner="id"`` renders a project's
    owner as a bare id, ``distinct_owner_ids=True`` makes that id differ from the organization's, and
    ``list_organizations=False`` makes ``organizations/`` answer 404.
    A user ``admin`` with token ``vh-sim-token`` exists unless ``token=None``.
    """

    def __init__(
        self,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        group_path: str | None = DEFAULT_GROUP_PATH,
        overwrite_existing: bool = False,
        token: str | None = DEFAULT_TOKEN,
        username: str = DEFAULT_USERNAME,
        seed: int | None = 0,
        *,
        exists_status: int = 400,
        exists_message: str = EXISTS_MESSAGE,
        project_owner: str = "object",
        distinct_owner_ids: bool = False,
        list_organizations: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.state = State(
            self.lock,
            overwrite_existing=overwrite_existing,
            exists_status=exists_status,
            exists_message=exists_message,
            project_owner=project_owner,
            distinct_owner_ids=distinct_owner_ids,
            list_organizations=list_organizations,
        )
        self.faults = Faults(self.lock, seed=seed)
        self.latency = float(latency)
        self.host = host
        self.port = port
        self.group_path = _normalise_path(group_path)
        self.api = ValohaiAPI(self.state, self.group_path)
        self.requests: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if token:
            self.add_user(token=token, username=username)

    # ---- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> ValohaiSimulator:
        """Bind (port 0 = a free port) and serve from a daemon thread."""
        if self._server is not None:
            return self
        self.stopping.clear()
        self._server = LoopbackHTTPServer((self.host, self.port), ValohaiHandler, owner=self)
        self.port = self._server.server_address[1]
        self._thread = serve_in_thread(self._server, name=f"valohai-sim-{self.port}")
        return self

    def stop(self) -> None:
        """Release hanging handlers, stop serving and close the socket."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ValohaiSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def overwrite_existing(self) -> bool:
        """Whether POSTing an existing env var name overwrites it (200) instead of answering 400."""
        return self.state.overwrite_existing

    @overwrite_existing.setter
    def overwrite_existing(self, value: bool) -> None:
        self.state.overwrite_existing = bool(value)

    def refuse_existing(self, status: int = 400, message: str = EXISTS_MESSAGE) -> None:
        """Refuse a POST of an existing env var name with ``status`` (400 or 409) and ``message``."""
        with self.lock:
            self.state.overwrite_existing = False
            self.state.exists_status = check_exists_status(status)
            self.state.exists_message = message

    def show_owners(self, style: str = "object", *, distinct_ids: bool = False) -> None:
        """Render project owners as ``{id, username}`` (``"object"``) or a bare id (``"id"``); ``distinct_ids``
        makes the owner id differ from the organization's id."""
        with self.lock:
            self.state.project_owner = check_project_owner(style)
            self.state.distinct_owner_ids = distinct_ids

    @property
    def list_organizations(self) -> bool:
        """Whether ``organizations/`` answers (False: 404, like an installation without it)."""
        return self.state.list_organizations

    @list_organizations.setter
    def list_organizations(self, value: bool) -> None:
        self.state.list_organizations = bool(value)

    # ---- seeding and inspection ----------------------------------------------------------------------------

    def add_user(self, token: str = DEFAULT_TOKEN, username: str = DEFAULT_USERNAME) -> dict[str, Any]:
        """Make ``token`` authenticate as ``username`` (created if new); returns the ``users/me/`` body."""
        return self.state.add_user(token, username).public()

    def add_organization(
        self, name: str, members: list[str] | None = None, admins: list[str] | None = None
    ) -> dict[str, Any]:
        """Create an organization (numeric ``id``). ``members=None``: all current users; admins default to members."""
        org = self.state.add_organization(name, members, admins)
        return {**self.state.render_org(org, self.url), "members": sorted(org.members), "admins": sorted(org.admins)}

    def add_project(self, org: int | str, name: str) -> dict[str, Any]:
        """Create a project owned by ``org`` (name or id); returns it as the API shows it (uuid ``id``)."""
        return self.state.render_project(self.state.add_project(org, name), self.url)

    def set_env_var(self, project_id: str, name: str, value: str, secret: bool = True) -> None:
        """Seed a project env var directly (no auth, no overwrite rule)."""
        with self.lock:
            project = self.state.projects.get(project_id)
            if project is None:
                raise KeyError(project_id)
            project.env[name] = {"value": value, "secret": secret}

    def env_var(self, project_id: str, name: str) -> dict[str, Any] | None:
        """``{"value", "secret"}`` as stored, value included, or None."""
        return self.state.env_var(project_id, name)

    def env_vars(self, project_id: str) -> dict[str, dict[str, Any]]:
        """All env vars of a project with their values."""
        with self.lock:
            project = self.state.projects.get(project_id)
            return {k: dict(v) for k, v in project.env.items()} if project else {}

    def add_group(
        self,
        org: int | str,
        name: str,
        variables: list[dict[str, Any]] | None = None,
        projects: list[str] | None = None,
    ) -> dict[str, Any]:
        """Seed an env-var group (no auth); returns it with values."""
        data = {
            "organization": self.state.org(org).id,
            "name": name,
            "variables": variables or [],
            "projects": projects or [],
        }
        group = self.state.save_group(None, data)
        result = self.state.group(group.id)
        assert result is not None
        return result

    def group(self, group_id: str) -> dict[str, Any] | None:
        """A group as stored, secret values included, or None."""
        return self.state.group(group_id)

    def dump(self) -> dict[str, Any]:
        """The ``GET /_sim/state`` body."""
        with self.lock:
            return {
                **self.state.dump(),
                "latency": self.latency,
                "group_path": self.group_path,
                "faults": self.faults.snapshot(),
                "requests": [list(r) for r in self.requests],
            }

    def record(self, request: Request) -> None:
        """Log a served API request as ``(method, path)``."""
        with self.lock:
            self.requests.append((request.method, request.path))

    # ---- control API ---------------------------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        """``/_sim/…``: no auth, no latency, no faults."""
        route = (request.method, request.path.rstrip("/"))
        try:
            data = request.data() if request.method == "POST" else {}
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            if route == ("GET", "/_sim/state"):
                return json_response(200, self.dump())
            if route == ("GET", "/_sim/requests"):
                return json_response(200, [list(r) for r in self.requests])
            if route == ("POST", "/_sim/projects"):
                return json_response(
                    201, self.state.render_project(self.state.add_project(data["org"], data["name"]), request.base)
                )
            if route == ("POST", "/_sim/organizations"):
                org = self.state.add_organization(data["name"], data.get("members"), data.get("admins"))
                return json_response(201, self.state.render_org(org, request.base))
            if route == ("POST", "/_sim/users"):
                return json_response(
                    201, self.add_user(data.get("token", DEFAULT_TOKEN), data.get("username", DEFAULT_USERNAME))
                )
            if route == ("POST", "/_sim/latency"):
                self.latency = float(data.get("seconds", 0))
                return json_response(200, {"latency": self.latency})
            if route == ("POST", "/_sim/faults"):
                self._control_faults(data)
                return json_response(200, self.faults.snapshot())
        except ApiError as exc:
            return json_response(exc.status, exc.body)
        except (KeyError, TypeError, ValueError) as exc:
            return json_response(400, {"detail": f"Bad control request: {exc!r}"})
        return json_response(404, NOT_FOUND)

    def _control_faults(self, data: dict[str, Any]) -> None:
        if data.get("clear"):
            self.faults.clear()
        elif "rate" in data:
            self.faults.rate(
                float(data["rate"]),
                statuses=tuple(data.get("statuses", (429, 500, 503))),
                path_contains=data.get("path_contains"),
                method=data.get("method"),
                retry_after=data.get("retry_after", 1),
                hang=float(data.get("hang", 30.0)),
                seed=data.get("seed"),
            )
        else:
            self.faults.add(
                data["status"],
                count=data.get("count", 1),
                path_contains=data.get("path_contains"),
                method=data.get("method"),
                retry_after=data.get("retry_after"),
                hang=float(data.get("hang", 30.0)),
            )


def _normalise_path(path: str | None) -> str | None:
    if not path:
        return None
    return "/" + path.strip("/") + "/"
