"""Scanning a Valohai organization for index URLs pasted by hand (read only; docs/platforms.md §2.3, §2.4).

- ``project variables``: each of the organization's projects (``GET /api/v0/projects/{id}/``), its
  ``environment_variables`` that are not secret (a secret's value reads back as null, so it cannot be scanned and
  is not in plain sight). Feedkeeper may replace such a variable with a secret delivery of the same name;
- ``organization groups``: the organization's environment-variable groups, where the installation answers the
  (undocumented) group endpoint; non-secret variables only. An installation that does not answer it gets an error
  on this part, so nothing found there before is resolved by mistake.
"""

from __future__ import annotations

from typing import Any

from targets.adapters.base import AdapterError, ScanSource, ScanValue
from targets.adapters.valohai_api import ValohaiClient, ValohaiError
from targets.adapters.valohai_groups import group_path


def _plain_variables(variables: Any) -> list[tuple[str, str]]:
    """``(name, value)`` of the non-secret variables of an ``environment_variables`` object or list."""
    if isinstance(variables, dict):
        items = [{"name": k, **v} for k, v in variables.items() if isinstance(v, dict)]
    elif isinstance(variables, list):
        items = [v for v in variables if isinstance(v, dict)]
    else:
        return []
    return [
        (str(v.get("name") or ""), v["value"]) for v in items if not v.get("secret") and isinstance(v.get("value"), str)
    ]


def scan_organization(adapter: Any, api: ValohaiClient) -> list[ScanSource]:
    """The project variables and the organization groups of ``adapter``'s organization."""
    try:
        org = adapter.organization(api)
        projects = adapter.organization_projects(api, org)
    except AdapterError as exc:
        return [ScanSource("project variables", error=str(exc)), ScanSource("organization groups", error=str(exc))]
    return [_projects(api, projects), _groups(api, int(org["id"]))]


def _projects(api: ValohaiClient, projects: dict[str, str]) -> ScanSource:
    source = ScanSource("project variables")
    try:
        for pid, name in sorted(projects.items(), key=lambda p: p[1]):
            project = api.project(pid)
            for var, value in _plain_variables(project.get("environment_variables")):
                place = {"kind": "project_variable", "project_id": pid, "project": name, "name": var}
                source.values.append(ScanValue(f"project {name} variable {var}", value, place, editable=True))
    except AdapterError as exc:
        return ScanSource(source.name, error=str(exc))
    return source


def _groups(api: ValohaiClient, org_id: int) -> ScanSource:
    source = ScanSource("organization groups")
    try:
        for group in api.paginate(api.url + group_path(), {"organization": org_id}):
            if str(group.get("organization")) != str(org_id):
                continue
            gid, gname = str(group.get("id") or ""), str(group.get("name") or "")
            for var, value in _plain_variables(group.get("variables")):
                place = {"kind": "group_variable", "group_id": gid, "group": gname, "name": var}
                source.values.append(ScanValue(f"organization group {gname} variable {var}", value, place))
    except ValohaiError as exc:
        if exc.status in (404, 405):
            return ScanSource(source.name, error="This installation does not answer the group endpoint.")
        return ScanSource(source.name, error=str(exc))
    except AdapterError as exc:
        return ScanSource(source.name, error=str(exc))
    return source
