"""Scanning a GitHub organization's Actions variables for index URLs pasted by hand (read only).

GitHub REST docs, "REST API endpoints for GitHub Actions variables": variables, unlike secrets, are plain text and
their values come back on every read: ``GET /orgs/{org}/actions/variables`` and
``GET /repos/{owner}/{repo}/actions/variables``, ``{"total_count", "variables": [{"name", "value", ...}]}``,
paginated by the ``Link`` header with ``per_page`` at most 30. Secrets cannot be read and are not scanned.

One :class:`ScanSource` for the organization's variables and one per repository, so a repository the token cannot
read resolves nothing of the others.
"""

from __future__ import annotations

from targets.adapters.base import AdapterError, ScanSource, ScanValue
from targets.adapters.github.client import GitHubClient

VARIABLES_PER_PAGE = 30


def scan_organization(api: GitHubClient, org: str) -> list[ScanSource]:
    """The organization's variables, then every repository's."""
    sources = [_variables(api, "organization variables", f"/orgs/{org}", {"kind": "org_variable"}, "organization")]
    try:
        repos = [str(r.get("name") or "") for r in api.paginate(f"/orgs/{org}/repos")]
    except AdapterError as exc:
        return [*sources, ScanSource("repositories", error=str(exc))]
    for repo in sorted(repos):
        place = {"kind": "repo_variable", "repository": repo}
        sources.append(_variables(api, f"repository {repo} variables", f"/repos/{org}/{repo}", place, repo))
    return sources


def _variables(api: GitHubClient, name: str, base: str, place: dict[str, str], label: str) -> ScanSource:
    source = ScanSource(name)
    try:
        for variable in api.paginate(f"{base}/actions/variables", key="variables", per_page=VARIABLES_PER_PAGE):
            var, value = str(variable.get("name") or ""), variable.get("value")
            if isinstance(value, str):
                where = {**place, "name": var}
                if variable.get("visibility"):
                    where["visibility"] = str(variable["visibility"])
                # Editable: after a secret replaces it, Feedkeeper may delete the variable (see delete_variable).
                source.values.append(ScanValue(f"{label} variable {var}", value, where, editable=True))
    except AdapterError as exc:
        return ScanSource(name, error=str(exc))
    return source


def delete_variable(api: GitHubClient, org: str, place: dict[str, str]) -> str:
    """Delete the variable ``place`` names (``DELETE /orgs/{org}/actions/variables/{name}`` or
    ``/repos/{org}/{repo}/actions/variables/{name}``, 204); one already gone counts as deleted. Returns what was
    done, for the audit history."""
    name = place["name"]
    base = f"/orgs/{org}" if place.get("kind") == "org_variable" else f"/repos/{org}/{place['repository']}"
    try:
        api.call("DELETE", f"{base}/actions/variables/{name}")
    except AdapterError as exc:
        if exc.status == 404:
            return f"variable {name} was gone already"
        raise
    return f"variable {name} deleted"
