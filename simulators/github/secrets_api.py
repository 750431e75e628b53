"""Organization and repository Actions secrets (GitHub REST docs: "REST API endpoints for GitHub Actions secrets").

Every endpoint here needs a token that administers the organization (403 otherwise); private repositories stay
404 for non-members. Lists are ``{"total_count", "secrets"}`` sorted by name and paginated like every list.
"""

from __future__ import annotations

from .api import Reply, Request, get_org, paginate, require_admin, route, visible_repo
from .model import SECRETS_DOCS, Repo, not_found, render_org_secret, render_public_key, render_repo, render_repo_secret
from .state import State

# ---- organization secrets ------------------------------------------------------------------------------------


@route("GET", "/orgs/{org}/actions/secrets/public-key")
def get_org_public_key(state: State, request: Request, org: str) -> Reply:
    """Get an organization public key."""
    owner = get_org(state, org)
    require_admin(request, owner)
    return Reply(200, render_public_key(owner.keys))


@route("GET", "/orgs/{org}/actions/secrets")
def list_org_secrets(state: State, request: Request, org: str) -> Reply:
    """List organization secrets."""
    owner = get_org(state, org)
    require_admin(request, owner)
    with state.lock:
        secrets = [owner.secrets[k] for k in sorted(owner.secrets)]
        chunk, headers = paginate(request, secrets)
        body = {"total_count": len(secrets), "secrets": [render_org_secret(s, owner, request.base) for s in chunk]}
    return Reply(200, body, headers)


@route("GET", "/orgs/{org}/actions/secrets/{name}")
def get_org_secret(state: State, request: Request, org: str, name: str) -> Reply:
    """Get an organization secret (never its value)."""
    owner = get_org(state, org)
    require_admin(request, owner)
    with state.lock:
        secret = state.find_secret(owner.secrets, name)
        if secret is None:
            raise not_found()
        return Reply(200, render_org_secret(secret, owner, request.base))


@route("PUT", "/orgs/{org}/actions/secrets/{name}")
def put_org_secret(state: State, request: Request, org: str, name: str) -> Reply:
    """Create or update an organization secret: 201 ``{}`` when created, 204 when updated."""
    owner = get_org(state, org)
    require_admin(request, owner)
    created = state.put_org_secret(owner, name, request.json())
    return Reply(201, {}) if created else Reply(204)


@route("DELETE", "/orgs/{org}/actions/secrets/{name}")
def delete_org_secret(state: State, request: Request, org: str, name: str) -> Reply:
    """Delete an organization secret: 204, or 404 when there is none."""
    owner = get_org(state, org)
    require_admin(request, owner)
    if not state.delete_secret(owner.secrets, name):
        raise not_found()
    return Reply(204)


@route("GET", "/orgs/{org}/actions/secrets/{name}/repositories")
def list_selected_repos(state: State, request: Request, org: str, name: str) -> Reply:
    """List selected repositories for an organization secret (409 unless visibility is ``selected``)."""
    owner = get_org(state, org)
    require_admin(request, owner)
    with state.lock:
        secret = state.find_secret(owner.secrets, name)
        if secret is None:
            raise not_found()
        state.check_selected(secret, f"{SECRETS_DOCS}#list-selected-repositories-for-an-organization-secret")
        repos = state.selected_repos(secret)
        chunk, headers = paginate(request, repos)
        body = {"total_count": len(repos), "repositories": [render_repo(r, request.base, request.token) for r in chunk]}
    return Reply(200, body, headers)


@route("PUT", "/orgs/{org}/actions/secrets/{name}/repositories")
def set_selected_repos(state: State, request: Request, org: str, name: str) -> Reply:
    """Set selected repositories for an organization secret: 204."""
    owner = get_org(state, org)
    require_admin(request, owner)
    with state.lock:
        secret = state.find_secret(owner.secrets, name)
        if secret is None:
            raise not_found()
        state.set_selected(owner, secret, request.json())
    return Reply(204)


def _change_selected(state: State, request: Request, org: str, name: str, repository_id: str, add: bool) -> Reply:
    owner = get_org(state, org)
    require_admin(request, owner)
    if not repository_id.isdigit():
        raise not_found()
    with state.lock:
        secret = state.find_secret(owner.secrets, name)
        if secret is None:
            raise not_found()
        state.change_selected(owner, secret, int(repository_id), add)
    return Reply(204)


@route("PUT", "/orgs/{org}/actions/secrets/{name}/repositories/{repository_id}")
def add_selected_repo(state: State, request: Request, org: str, name: str, repository_id: str) -> Reply:
    """Add selected repository to an organization secret: 204, 409 unless ``selected``."""
    return _change_selected(state, request, org, name, repository_id, add=True)


@route("DELETE", "/orgs/{org}/actions/secrets/{name}/repositories/{repository_id}")
def remove_selected_repo(state: State, request: Request, org: str, name: str, repository_id: str) -> Reply:
    """Remove selected repository from an organization secret: 204, 409 unless ``selected``."""
    return _change_selected(state, request, org, name, repository_id, add=False)


# ---- repository secrets --------------------------------------------------------------------------------------


def _admin_repo(state: State, request: Request, owner: str, repo: str) -> Repo:
    found = visible_repo(state, request, owner, repo)
    require_admin(request, found.org)
    return found


@route("GET", "/repos/{owner}/{repo}/actions/secrets/public-key")
def get_repo_public_key(state: State, request: Request, owner: str, repo: str) -> Reply:
    """Get a repository public key (each repository has its own key pair)."""
    return Reply(200, render_public_key(_admin_repo(state, request, owner, repo).keys))


@route("GET", "/repos/{owner}/{repo}/actions/secrets")
def list_repo_secrets(state: State, request: Request, owner: str, repo: str) -> Reply:
    """List repository secrets."""
    found = _admin_repo(state, request, owner, repo)
    with state.lock:
        secrets = [found.secrets[k] for k in sorted(found.secrets)]
        chunk, headers = paginate(request, secrets)
        body = {"total_count": len(secrets), "secrets": [render_repo_secret(s) for s in chunk]}
    return Reply(200, body, headers)


@route("GET", "/repos/{owner}/{repo}/actions/secrets/{name}")
def get_repo_secret(state: State, request: Request, owner: str, repo: str, name: str) -> Reply:
    """Get a repository secret (never its value)."""
    found = _admin_repo(state, request, owner, repo)
    with state.lock:
        secret = state.find_secret(found.secrets, name)
        if secret is None:
            raise not_found()
        return Reply(200, render_repo_secret(secret))


@route("PUT", "/repos/{owner}/{repo}/actions/secrets/{name}")
def put_repo_secret(state: State, request: Request, owner: str, repo: str, name: str) -> Reply:
    """Create or update a repository secret: 201 ``{}`` when created, 204 when updated."""
    found = _admin_repo(state, request, owner, repo)
    created = state.put_repo_secret(found, name, request.json())
    return Reply(201, {}) if created else Reply(204)


@route("DELETE", "/repos/{owner}/{repo}/actions/secrets/{name}")
def delete_repo_secret(state: State, request: Request, owner: str, repo: str, name: str) -> Reply:
    """Delete a repository secret: 204, or 404 when there is none."""
    found = _admin_repo(state, request, owner, repo)
    if not state.delete_secret(found.secrets, name):
        raise not_found()
    return Reply(204)
