"""Artifactory side of the simulator: system ping and PyPI repositories (``/artifactory/…``).

``GET /artifactory/api/system/ping`` answers ``OK`` (text/plain) to anyone (JFrog REST APIs: "System Health Ping":
"Requires a valid user (can be anonymous)"); a presented credential must be valid.

PyPI (JFrog Artifactory Documentation: "PyPI Repositories", "Use a Pip Configuration File": ``index-url =
http://user:password@host/artifactory/api/pypi/<repo>/simple``): ``…/api/pypi/{repo}/simple/`` lists projects,
``…/simple/{project}/`` links each file as ``/artifactory/api/pypi/{repo}/packages/{filename}#sha256=…`` (an
absolute path on the same host, so pip sends the index credentials along), and that path serves the wheel.

Credentials (JFrog REST APIs: "Introduction to the Artifactory REST APIs", Authentication; JFrog Platform
Administration: "Basic Authentication"): ``Authorization: Basic user:<access or reference token>`` ("access
Artifactory using the same user name provided when creating the token": enforced unless
``basic_username_must_match=False``), ``Authorization: Bearer <access or reference token>``, or ``X-JFrog-Art-Api:
<reference token>``. Missing or bad credentials answer 401 with ``WWW-Authenticate: Basic realm="Artifactory
Realm"``; a valid token without read permission 403.
"""

from __future__ import annotations

import re

from .model import ArtifactoryError, Reply, Request
from .state import Caller, Repo, State
from .tokens import REFERENCE_PATTERN

__all__ = ["handle_artifactory"]

PYPI = re.compile(r"^/artifactory/api/pypi/(?P<repo>[^/]+)/(?P<rest>.*)$")
HTML = "text/html; charset=utf-8"


def handle_artifactory(state: State, request: Request) -> Reply:
    """Route and run one ``/artifactory/…`` call."""
    try:
        with state.lock:
            return _route(state, request)
    except ArtifactoryError as exc:
        return exc.reply()


def _route(state: State, request: Request) -> Reply:
    path = request.path
    if path.rstrip("/") == "/artifactory/api/system/ping":
        _allow(request, "GET", "HEAD")
        if _has_credentials(request):
            authenticate(state, request)
        return Reply.text(200, "OK")
    match = PYPI.match(path)
    if match is None:
        raise ArtifactoryError(404, "Not Found")
    _allow(request, "GET", "HEAD")
    caller = authenticate(state, request)
    repo = state.repos.get(match["repo"])
    if repo is None:
        raise ArtifactoryError(404, f"Repository {match['repo']} not found")
    if not can_read(caller, repo):
        raise ArtifactoryError(403, f"User {caller.username} is not permitted to read {repo.key}")
    return _pypi(repo, match["rest"])


def _pypi(repo: Repo, rest: str) -> Reply:
    parts = [p for p in rest.split("/") if p]
    if parts == ["simple"]:
        return Reply(200, repo.index.root_page(), HTML)
    if len(parts) == 2 and parts[0] == "simple":
        page = repo.index.project_page(parts[1], f"/artifactory/api/pypi/{repo.key}/packages/")
        if page is None:
            raise ArtifactoryError(404, f"Package {parts[1]} not found in {repo.key}")
        return Reply(200, page, HTML)
    if len(parts) >= 2 and parts[0] == "packages":
        data = repo.index.file(parts[-1])
        if data is None:
            raise ArtifactoryError(404, "File not found.")
        return Reply(200, data, "application/octet-stream")
    raise ArtifactoryError(404, "Not Found")


def _allow(request: Request, *methods: str) -> None:
    if request.method not in methods:
        raise ArtifactoryError(405, f"Method {request.method} is not allowed", {"Allow": ", ".join(methods)})


def _has_credentials(request: Request) -> bool:
    return bool(request.header("Authorization") or request.header("X-JFrog-Art-Api"))


def authenticate(state: State, request: Request) -> Caller:
    """The caller of an Artifactory call, or 401."""
    authorization = (request.header("Authorization") or "").strip()
    username: str | None = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            credentials = request.basic_credentials()
            if credentials is None:
                raise ArtifactoryError(401, "Bad credentials")
            username, value = credentials
        elif scheme.lower() != "bearer":
            raise ArtifactoryError(401, f"Unsupported authentication scheme {scheme}")
    elif request.header("X-JFrog-Art-Api"):
        value = str(request.header("X-JFrog-Art-Api")).strip()
        if not REFERENCE_PATTERN.match(value):  # the header takes reference tokens (and API keys), not JWTs
            raise ArtifactoryError(401, "Bad credentials")
    else:
        raise ArtifactoryError(401, "Authentication is required")
    caller, verdict = state.authenticate(value.strip())
    if caller is None:
        raise ArtifactoryError(401, "Token expired" if verdict == "expired" else "Bad credentials")
    if username is not None and state.policy.basic_username_must_match and username != caller.username:
        raise ArtifactoryError(401, "Bad credentials")
    return caller


def can_read(caller: Caller, repo: Repo) -> bool:
    """Admins read everything; others through a group the token carries."""
    return caller.is_admin or bool(caller.groups() & repo.read_groups)
