"""Routing, pagination and the user / organization / repository endpoints of the GitHub simulator.

Pagination follows GitHub REST docs "Using pagination in the REST API": ``per_page`` (default 30, max 100) and
``page``, with a ``Link`` header of absolute URLs (``rel="prev"``, ``"next"``, ``"last"``, ``"first"``, in that
order) built from the request's ``Host`` header. Like GitHub, the links of ``GET /orgs/{org}/repos`` point at
``/organizations/{id}/repos``, so a client must follow them rather than rebuild them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .model import (
    DOCS,
    ApiError,
    Org,
    Repo,
    Token,
    not_found,
    render_org,
    render_repo,
    render_user,
)
from .ratelimit import RateView
from .state import State

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


@dataclass
class Request:
    """One API call, its path already stripped of the configured prefix."""

    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes
    root: str  # scheme://host[:port] from the Host header
    prefix: str  # "" or "/api/v3"
    token: Token | None = None
    rate: RateView | None = None

    @property
    def base(self) -> str:
        """Absolute API base URL (root + prefix), used in every URL the API answers with."""
        return self.root + self.prefix

    def param(self, name: str) -> str | None:
        """Last value of a query parameter."""
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; 400 ``Problems parsing JSON`` otherwise (an empty body is ``{}``)."""
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ApiError(400, "Problems parsing JSON")
        return data


@dataclass
class Reply:
    """A status, a JSON-able body (None = empty) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[..., Reply]


@dataclass
class Route:
    """One method on one path pattern."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler


ROUTES: list[Route] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register ``handler(state, request, **path_params)`` for ``method`` on ``pattern`` (``{name}`` = a segment)."""
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "/?$")

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, regex, handler))
        return handler

    return register


def resolve(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    """The handler for ``method path``: 404 for unknown paths, 405 (with ``Allow``) for unknown methods."""
    method = "GET" if method == "HEAD" else method
    allowed: list[str] = []
    for candidate in ROUTES:
        match = candidate.pattern.match(path)
        if match is None:
            continue
        if candidate.method == method:
            return candidate.handler, match.groupdict()
        allowed.append(candidate.method)
    if not allowed:
        raise not_found()
    allow = ", ".join(sorted(set(allowed)))
    raise ApiError(405, "Method Not Allowed", DOCS, headers={"Allow": allow})


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def paginate(request: Request, items: list[Any], link_path: str | None = None) -> tuple[list[Any], dict[str, str]]:
    """Slice ``items`` by ``per_page``/``page`` and build the ``Link`` header (absent for a single page)."""
    per_page = min(MAX_PER_PAGE, max(1, _int(request.param("per_page"), DEFAULT_PER_PAGE)))
    page = max(1, _int(request.param("page"), 1))
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]

    def url(number: int) -> str:
        params = [(k, v) for k, v in request.query if k != "page"] + [("page", str(number))]
        return f"{request.base}{link_path or request.path}?{urlencode(params)}"

    links: list[tuple[int, str]] = []
    if page > 1:
        links.append((min(page - 1, last), "prev"))
    if page < last:
        links += [(page + 1, "next"), (last, "last")]
    if page > 1:
        links.append((1, "first"))
    headers = {"Link": ", ".join(f'<{url(n)}>; rel="{rel}"' for n, rel in links)} if links else {}
    return chunk, headers


# ---- access helpers ------------------------------------------------------------------------------------------


def token_of(request: Request) -> Token:
    """The authenticated token (the server authenticates before routing)."""
    assert request.token is not None
    return request.token


def get_org(state: State, login: str) -> Org:
    """An organization or 404."""
    org = state.org(login)
    if org is None:
        raise not_found()
    return org


def visible_repo(state: State, request: Request, owner: str, name: str) -> Repo:
    """A repository the token may see (private and internal ones need membership), or 404."""
    repo = state.repo(owner, name)
    if repo is None or (repo.visibility != "public" and not token_of(request).is_member(repo.org)):
        raise not_found()
    return repo


def forbidden() -> ApiError:
    """The 403 a token without admin rights gets (fine-grained PAT wording)."""
    return ApiError(403, "Resource not accessible by personal access token", f"{DOCS}/actions/secrets")


def require_admin(request: Request, org: Org) -> None:
    """403 unless the token administers ``org``."""
    if not token_of(request).is_admin(org):
        raise forbidden()


# ---- users, rate limit, organizations, repositories ------------------------------------------------------------


@route("GET", "/user")
def get_user(state: State, request: Request) -> Reply:
    """Get the authenticated user."""
    return Reply(200, render_user(token_of(request).user, request.base))


@route("GET", "/rate_limit")
def get_rate_limit(state: State, request: Request) -> Reply:
    """Get rate limit status for the authenticated user (does not count against ``core``)."""
    assert request.rate is not None
    core = request.rate.body()
    search = {"limit": 30, "used": 0, "remaining": 30, "reset": core["reset"]}
    graphql = {"limit": 5000, "used": 0, "remaining": 5000, "reset": core["reset"]}
    return Reply(200, {"resources": {"core": core, "search": search, "graphql": graphql}, "rate": core})


@route("GET", "/orgs/{org}")
def get_organization(state: State, request: Request, org: str) -> Reply:
    """Get an organization."""
    return Reply(200, render_org(get_org(state, org), request.base))


def _org_repos(state: State, request: Request, org: Org) -> Reply:
    token = token_of(request)
    with state.lock:
        repos = [r for r in org.repos.values() if r.visibility == "public" or token.is_member(org)]
    kind = request.param("type") or "all"
    if kind == "public":
        repos = [r for r in repos if r.visibility == "public"]
    elif kind == "private":
        repos = [r for r in repos if r.visibility != "public"]
    elif kind == "forks":
        repos = []
    sort = request.param("sort") or "created"
    direction = request.param("direction") or ("asc" if sort == "full_name" else "desc")
    if sort == "full_name":
        repos.sort(key=lambda r: (r.full_name.lower(), r.id))
    else:
        repos.sort(key=lambda r: (r.created_at, r.id))
    if direction == "desc":
        repos.reverse()
    chunk, headers = paginate(request, repos, f"/organizations/{org.id}/repos")
    return Reply(200, [render_repo(r, request.base, token) for r in chunk], headers)


@route("GET", "/orgs/{org}/repos")
def list_org_repos(state: State, request: Request, org: str) -> Reply:
    """List organization repositories (newest first by default; non-members see public ones only)."""
    return _org_repos(state, request, get_org(state, org))


@route("GET", "/organizations/{org_id}/repos")
def list_org_repos_by_id(state: State, request: Request, org_id: str) -> Reply:
    """The id-based form that ``Link`` headers point at."""
    org = state.org_by_id(_int(org_id, -1))
    if org is None:
        raise not_found()
    return _org_repos(state, request, org)


@route("GET", "/repos/{owner}/{repo}")
def get_repository(state: State, request: Request, owner: str, repo: str) -> Reply:
    """Get a repository."""
    return Reply(200, render_repo(visible_repo(state, request, owner, repo), request.base, token_of(request)))
