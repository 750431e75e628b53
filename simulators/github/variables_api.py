"""Organization and repository Actions variables (GitHub REST docs: "REST API endpoints for GitHub Actions
variables"). Unlike secrets, variables are plain text and their values come back on every read.

- ``GET /orgs/{org}/actions/variables`` -> ``{"total_count", "variables": [{"name", "value", "created_at",
  "updated_at", "visibility", "selected_repositories_url"?}]}``; ``POST`` ``{name, value, visibility,
  selected_repository_ids?}`` -> 201 ``{}``; ``GET``/``PATCH``/``DELETE .../{name}`` (204 for the last two).
- ``GET /repos/{owner}/{repo}/actions/variables`` -> ``{"total_count", "variables": [{"name", "value",
  "created_at", "updated_at"}]}``; ``POST``, ``GET``/``PATCH``/``DELETE .../{name}`` alike.
- Lists take ``per_page`` up to **30** (default 10, the docs' figures for these endpoints) and ``page``.
- Names follow the secrets' rules and are stored upper-cased; a name that exists answers 409 on ``POST``. Values
  are limited to 48 KB. Every endpoint needs a token that administers the organization (the stricter reading of
  the "Variables" permission), as the secrets do.

Seed from Python with :func:`set_variable`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .api import Reply, Request, get_org, paginate, require_admin, route, visible_repo
from .model import ApiError, Org, Repo, iso, not_found, now
from .state import State, invalid, secret_name_error

VARIABLES_DOCS = "https://docs.github.com/rest/actions/variables"
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 30
MAX_VALUE_BYTES = 48_000


@dataclass
class Variable:
    """A stored variable; organization variables also carry their visibility and selected repositories."""

    name: str
    value: str
    created_at: datetime
    updated_at: datetime
    visibility: str | None = None
    selected: list[int] = dataclasses.field(default_factory=list)


def _store(state: State, org: Org, repo: Repo | None) -> dict[str, Variable]:
    """The variables of ``org`` (``repo`` None) or of ``repo``, kept on the state object."""
    return state.variables.setdefault((org.key, repo.name.lower() if repo else ""), {})


def set_variable(
    state: State, org: str, name: str, value: str, repo: str | None = None, visibility: str = "all"
) -> None:
    """Create or overwrite a variable from Python (seeding); ``repo`` None for an organization variable."""
    with state.lock:
        owner = state.org(org)
        if owner is None:
            raise KeyError(org)
        found = state.repo(org, repo) if repo else None
        if repo and found is None:
            raise KeyError(repo)
        stamp = now()
        _store(state, owner, found)[name.upper()] = Variable(
            name.upper(), value, stamp, stamp, None if found else visibility
        )


def variables_of(state: State, org: str, repo: str | None = None) -> dict[str, str]:
    """``name -> value`` of the organization's (or a repository's) variables, for tests."""
    with state.lock:
        owner = state.org(org)
        found = state.repo(org, repo) if repo and owner else None
        if owner is None or (repo and found is None):
            return {}
        return {n: v.value for n, v in _store(state, owner, found).items()}


def _render(variable: Variable, org: Org | None, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": variable.name,
        "value": variable.value,
        "created_at": iso(variable.created_at),
        "updated_at": iso(variable.updated_at),
    }
    if org is not None:
        out["visibility"] = variable.visibility or "all"
        if variable.visibility == "selected":
            out["selected_repositories_url"] = f"{base}/orgs/{org.login}/actions/variables/{variable.name}/repositories"
    return out


def _list(state: State, request: Request, store: dict[str, Variable], org: Org | None) -> Reply:
    per_page = request.param("per_page")
    try:
        size = min(MAX_PER_PAGE, max(1, int(per_page))) if per_page is not None else DEFAULT_PER_PAGE
    except ValueError:
        size = DEFAULT_PER_PAGE
    query = [(k, v) for k, v in request.query if k != "per_page"] + [("per_page", str(size))]
    with state.lock:
        items = [store[k] for k in sorted(store)]
        chunk, headers = paginate(dataclasses.replace(request, query=query), items)
        body = {"total_count": len(items), "variables": [_render(v, org, request.base) for v in chunk]}
    return Reply(200, body, headers)


def _check(body: dict[str, Any], *, creating: bool, org: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("name", "value"):
        if key not in body:
            if creating:
                raise invalid(f'Invalid request.\n\n"{key}" wasn\'t supplied.', VARIABLES_DOCS)
            continue
        if not isinstance(body[key], str):
            raise invalid(f"Invalid request.\n\nFor 'properties/{key}', {body[key]!r} is not a string.", VARIABLES_DOCS)
        out[key] = body[key]
    if "name" in out:
        why = secret_name_error(out["name"])
        if why:
            raise invalid(why.replace("Secret", "Variable"), VARIABLES_DOCS)
    if len(out.get("value", "").encode()) > MAX_VALUE_BYTES:
        raise invalid("Variable value is too large.", VARIABLES_DOCS)
    if org:
        visibility = body.get("visibility", "all" if creating else None)
        if visibility is not None and visibility not in ("all", "private", "selected"):
            raise invalid(f"Invalid request.\n\nvisibility {visibility!r} is not a member of the enum.", VARIABLES_DOCS)
        if visibility is not None:
            out["visibility"] = visibility
    return out


def _create(state: State, request: Request, store: dict[str, Variable], org: bool) -> Reply:
    given = _check(request.json(), creating=True, org=org)
    with state.lock:
        name = given["name"].upper()
        if name in store:
            raise ApiError(409, "Already exists - Variable already exists", VARIABLES_DOCS)
        stamp = now()
        store[name] = Variable(name, given["value"], stamp, stamp, given.get("visibility") if org else None)
    return Reply(201, {})


def _update(state: State, request: Request, store: dict[str, Variable], name: str, org: bool) -> Reply:
    given = _check(request.json(), creating=False, org=org)
    with state.lock:
        found = store.get(name.upper())
        if found is None:
            raise not_found()
        found.value = given.get("value", found.value)
        if org and "visibility" in given:
            found.visibility = given["visibility"]
        new_name = given.get("name", found.name).upper()
        if new_name != found.name:
            del store[found.name]
            found.name = new_name
            store[new_name] = found
        found.updated_at = now()
    return Reply(204)


def _one(state: State, store: dict[str, Variable], name: str) -> Variable:
    with state.lock:
        found = store.get(name.upper())
        if found is None:
            raise not_found()
        return found


def _delete(state: State, store: dict[str, Variable], name: str) -> Reply:
    with state.lock:
        if store.pop(name.upper(), None) is None:
            raise not_found()
    return Reply(204)


# ---- organization variables ----------------------------------------------------------------------------------


def _org(state: State, request: Request, org: str) -> tuple[Org, dict[str, Variable]]:
    owner = get_org(state, org)
    require_admin(request, owner)
    return owner, _store(state, owner, None)


@route("GET", "/orgs/{org}/actions/variables")
def list_org_variables(state: State, request: Request, org: str) -> Reply:
    """List organization variables (values included)."""
    owner, store = _org(state, request, org)
    return _list(state, request, store, owner)


@route("POST", "/orgs/{org}/actions/variables")
def create_org_variable(state: State, request: Request, org: str) -> Reply:
    """Create an organization variable: 201, 409 when the name exists."""
    _, store = _org(state, request, org)
    return _create(state, request, store, org=True)


@route("GET", "/orgs/{org}/actions/variables/{name}")
def get_org_variable(state: State, request: Request, org: str, name: str) -> Reply:
    """Get an organization variable."""
    owner, store = _org(state, request, org)
    return Reply(200, _render(_one(state, store, name), owner, request.base))


@route("PATCH", "/orgs/{org}/actions/variables/{name}")
def update_org_variable(state: State, request: Request, org: str, name: str) -> Reply:
    """Update an organization variable: 204."""
    _, store = _org(state, request, org)
    return _update(state, request, store, name, org=True)


@route("DELETE", "/orgs/{org}/actions/variables/{name}")
def delete_org_variable(state: State, request: Request, org: str, name: str) -> Reply:
    """Delete an organization variable: 204, or 404 when there is none."""
    _, store = _org(state, request, org)
    return _delete(state, store, name)


# ---- repository variables ------------------------------------------------------------------------------------


def _repo(state: State, request: Request, owner: str, repo: str) -> dict[str, Variable]:
    found = visible_repo(state, request, owner, repo)
    require_admin(request, found.org)
    return _store(state, found.org, found)


@route("GET", "/repos/{owner}/{repo}/actions/variables")
def list_repo_variables(state: State, request: Request, owner: str, repo: str) -> Reply:
    """List repository variables (values included)."""
    return _list(state, request, _repo(state, request, owner, repo), None)


@route("POST", "/repos/{owner}/{repo}/actions/variables")
def create_repo_variable(state: State, request: Request, owner: str, repo: str) -> Reply:
    """Create a repository variable: 201, 409 when the name exists."""
    return _create(state, request, _repo(state, request, owner, repo), org=False)


@route("GET", "/repos/{owner}/{repo}/actions/variables/{name}")
def get_repo_variable(state: State, request: Request, owner: str, repo: str, name: str) -> Reply:
    """Get a repository variable."""
    return Reply(200, _render(_one(state, _repo(state, request, owner, repo), name), None, request.base))


@route("PATCH", "/repos/{owner}/{repo}/actions/variables/{name}")
def update_repo_variable(state: State, request: Request, owner: str, repo: str, name: str) -> Reply:
    """Update a repository variable: 204."""
    return _update(state, request, _repo(state, request, owner, repo), name, org=False)


@route("DELETE", "/repos/{owner}/{repo}/actions/variables/{name}")
def delete_repo_variable(state: State, request: Request, owner: str, repo: str, name: str) -> Reply:
    """Delete a repository variable: 204, or 404 when there is none."""
    return _delete(state, _repo(state, request, owner, repo), name)
