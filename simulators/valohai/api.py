"""Routing and views of the simulated Valohai REST API (``/api/v0/…``, docs/platforms.md §2)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode

from .httpbase import Response, json_response
from .model import NOT_FOUND, ApiError, User
from .state import State

DEFAULT_LIMIT = 100
UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclass
class Request:
    """What a view needs from an HTTP request."""

    method: str
    path: str
    query: str
    headers: Any
    body: bytes
    base: str  # scheme://host[:port] taken from the Host header

    def params(self) -> dict[str, str]:
        """Query parameters, last value wins."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def data(self) -> Any:
        """The parsed body like DRF's default parsers (JSON, form), or an ApiError 400/415."""
        if not self.body:
            return {}
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype in ("application/json", ""):
            try:
                return json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from exc
        if ctype == "application/x-www-form-urlencoded":
            return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}
        raise ApiError(415, {"detail": f'Unsupported media type "{ctype}" in request.'})


View = Callable[..., Response]


def paginate(items: list[Any], request: Request) -> dict[str, Any]:
    """DRF ``LimitOffsetPagination``: absolute ``next``/``previous`` built from the request URL."""
    params = request.params()
    limit = _positive_int(params.get("limit"), DEFAULT_LIMIT, strict=True)
    offset = _positive_int(params.get("offset"), 0, strict=False)
    count = len(items)

    def link(new_offset: int | None) -> str:
        pairs = [(k, v) for k, v in parse_qsl(request.query, keep_blank_values=True) if k not in ("limit", "offset")]
        pairs.append(("limit", str(limit)))
        if new_offset:
            pairs.append(("offset", str(new_offset)))
        return f"{request.base}{request.path}?{urlencode(pairs)}"

    next_url = link(offset + limit) if offset + limit < count else None
    if offset <= 0:
        previous_url = None
    else:
        previous_url = link(offset - limit if offset - limit > 0 else None)
    return {"count": count, "next": next_url, "previous": previous_url, "results": items[offset : offset + limit]}


def _positive_int(raw: str | None, default: int, *, strict: bool) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    if value < 0 or (strict and value == 0):
        return default
    return value


class ValohaiAPI:
    """Dispatches one request to its view: 404 for unknown paths, then auth (401), then 405, then the view."""

    def __init__(self, state: State, group_path: str | None) -> None:
        self.state = state
        self.group_path = group_path
        routes: list[tuple[str, dict[str, View]]] = [
            (r"/api/v0/users/me/", {"GET": self.me}),
            (r"/api/v0/organizations/", {"GET": self.organizations}),
            (r"/api/v0/organizations/(?P<org_id>\d+)/", {"GET": self.organization}),
            (r"/api/v0/projects/", {"GET": self.projects}),
            (r"/api/v0/projects/ownership_options/", {"GET": self.ownership_options}),
            (rf"/api/v0/projects/(?P<project_id>{UUID_RE})/", {"GET": self.project}),
            (
                rf"/api/v0/projects/(?P<project_id>{UUID_RE})/environment_variable/",
                {"POST": self.create_env_var, "DELETE": self.delete_env_var},
            ),
        ]
        if group_path:
            prefix = re.escape(group_path)
            routes += [
                (prefix, {"GET": self.list_groups, "POST": self.create_group}),
                (
                    rf"{prefix}(?P<group_id>{UUID_RE})/",
                    {
                        "GET": self.get_group,
                        "PUT": self.put_group,
                        "PATCH": self.patch_group,
                        "DELETE": self.delete_group,
                    },
                ),
            ]
        self.routes = [(re.compile(pattern + r"\Z"), views) for pattern, views in routes]

    def resolve(self, path: str) -> tuple[dict[str, View], re.Match[str]] | None:
        """The views of the route matching ``path`` and the match, or None (404)."""
        for pattern, views in self.routes:
            match = pattern.match(path)
            if match:
                return views, match
        return None

    def handle(self, request: Request) -> Response:
        """Answer ``request``, turning :class:`ApiError` into its DRF-shaped response."""
        found = self.resolve(request.path)
        if found is None:
            return json_response(404, NOT_FOUND)
        views, match = found
        try:
            user = self.state.authenticate(request.headers.get("Authorization"))
            view = views.get("GET" if request.method == "HEAD" else request.method)
            if view is None:
                allowed = ", ".join([*views, "HEAD", "OPTIONS"] if "GET" in views else [*views, "OPTIONS"])
                return json_response(405, {"detail": f'Method "{request.method}" not allowed.'}, Allow=allowed)
            return view(request, user, **match.groupdict())
        except ApiError as exc:
            headers = {"WWW-Authenticate": "Token"} if exc.status == 401 else {}
            return json_response(exc.status, exc.body, **headers)

    # ---- users and organizations ---------------------------------------------------------------------------

    def me(self, request: Request, user: User) -> Response:
        """``GET users/me/``: the health check ``vh login`` uses."""
        body = user.public()
        if self.state.list_organizations:
            body["organizations"] = [self.state.render_org(o, request.base) for o in self.state.visible_orgs(user)]
        return json_response(200, body)

    def _organizations_listed(self) -> None:
        if not self.state.list_organizations:  # an installation without the endpoint
            raise ApiError(404, NOT_FOUND)

    def organizations(self, request: Request, user: User) -> Response:
        """``GET organizations/``: the user's organizations, paginated (404 without ``list_organizations``)."""
        self._organizations_listed()
        orgs = [self.state.render_org(o, request.base) for o in self.state.visible_orgs(user)]
        return json_response(200, paginate(orgs, request))

    def organization(self, request: Request, user: User, org_id: str) -> Response:
        """``GET organizations/{id}/``."""
        self._organizations_listed()
        for org in self.state.visible_orgs(user):
            if org.id == int(org_id):
                return json_response(200, self.state.render_org(org, request.base))
        raise ApiError(404, NOT_FOUND)

    # ---- projects ------------------------------------------------------------------------------------------

    def projects(self, request: Request, user: User) -> Response:
        """``GET projects/?limit=&offset=``: every visible project (no owner filter: clients filter)."""
        projects = [self.state.render_project(p, request.base) for p in self.state.visible_projects(user)]
        return json_response(200, paginate(projects, request))

    def ownership_options(self, request: Request, user: User) -> Response:
        """``GET projects/ownership_options/``: names the user may create projects under."""
        return json_response(200, [o.name for o in self.state.visible_orgs(user)])

    def project(self, request: Request, user: User, project_id: str) -> Response:
        """``GET projects/{uuid}/``: secret env var values are null."""
        project = self.state.project_for(user, _canonical(project_id))
        return json_response(200, self.state.render_project(project, request.base))

    def create_env_var(self, request: Request, user: User, project_id: str) -> Response:
        """``POST projects/{uuid}/environment_variable/``: 201 new, 200 overwritten, or the configured refusal
        (400 or 409) of an existing name."""
        status, body = self.state.put_env_var(user, _canonical(project_id), request.data())
        return json_response(status, body)

    def delete_env_var(self, request: Request, user: User, project_id: str) -> Response:
        """``DELETE projects/{uuid}/environment_variable/`` with JSON body ``{"name"}``: 204 or 404."""
        self.state.delete_env_var(user, _canonical(project_id), request.data())
        return json_response(204)

    # ---- environment-variable groups -----------------------------------------------------------------------

    def _render_group(self, request: Request, group: Any) -> dict[str, Any]:
        assert self.group_path is not None
        return self.state.render_group(group, request.base, self.group_path)

    def list_groups(self, request: Request, user: User) -> Response:
        """``GET <group_path>?organization=<id>``, paginated."""
        groups = self.state.list_groups(user, request.params().get("organization"))
        return json_response(200, paginate([self._render_group(request, g) for g in groups], request))

    def create_group(self, request: Request, user: User) -> Response:
        """``POST <group_path>``: 201 with the new group's uuid."""
        group = self.state.save_group(user, request.data())
        return json_response(201, self._render_group(request, group))

    def get_group(self, request: Request, user: User, group_id: str) -> Response:
        """``GET <group_path><uuid>/``."""
        return json_response(200, self._render_group(request, self.state.group_for(user, _canonical(group_id))))

    def put_group(self, request: Request, user: User, group_id: str) -> Response:
        """``PUT <group_path><uuid>/``: full replacement."""
        group = self.state.save_group(user, request.data(), _canonical(group_id))
        return json_response(200, self._render_group(request, group))

    def patch_group(self, request: Request, user: User, group_id: str) -> Response:
        """``PATCH <group_path><uuid>/``: partial update."""
        group = self.state.save_group(user, request.data(), _canonical(group_id), partial=True)
        return json_response(200, self._render_group(request, group))

    def delete_group(self, request: Request, user: User, group_id: str) -> Response:
        """``DELETE <group_path><uuid>/``: 204."""
        self.state.delete_group(user, _canonical(group_id))
        return json_response(204)


def _canonical(value: str) -> str:
    """Lower-case hyphenated uuid, as stored."""
    return str(uuid.UUID(value))
