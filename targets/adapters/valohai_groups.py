"""Organization environment-variable groups on Valohai (EXPERIMENTAL; docs/platforms.md §2.4).

The group CRUD endpoint is not public. Feedkeeper assumes a DRF viewset at ``settings.VALOHAI_GROUP_PATH`` with
fields ``id`` (uuid), ``organization`` (int), ``name``, ``variables`` (``[{name, value, secret}]``) and
``projects`` (uuids), and that a variable sent back with ``"value": null`` keeps its stored secret (so a
read-modify-write does not wipe secrets it could not read). An installation that answers 404/405 there does not
have it; the delivery then fails permanently, pointing at the proven ``project_variable`` mode.

Feedkeeper owns one group per variable, named ``feedkeeper-<variable lowercased>``, and sets its project list to
exactly the delivery's projects (every project of the organization for ``["*"]``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from core import http
from targets.adapters.base import AdapterError, PushResult
from targets.adapters.valohai_api import ValohaiClient, ValohaiError
from targets.adapters.valohai_projects import DELIVERED


def group_path() -> str:
    return "/" + str(settings.VALOHAI_GROUP_PATH).strip("/") + "/"


def group_name(variable: str) -> str:
    return f"feedkeeper-{variable.lower()}"


def missing_endpoint() -> AdapterError:
    return AdapterError(
        f"This Valohai installation does not answer the organization group endpoint {group_path()}; "
        "use project_variable or set VALOHAI_GROUP_PATH",
        permanent=True,
    )


def _endpoint_errors(exc: ValohaiError) -> AdapterError:
    return missing_endpoint() if exc.status in (404, 405) else exc


def find_group(api: ValohaiClient, org_id: int, name: str) -> dict[str, Any] | None:
    """The organization's group called ``name``, or None. Raises the "no endpoint" error on 404/405."""
    try:
        for group in api.paginate(api.url + group_path(), {"organization": org_id}):
            if group.get("name") == name and str(group.get("organization")) == str(org_id):
                return dict(group)
    except ValohaiError as exc:
        raise _endpoint_errors(exc) from None
    return None


def push_group(api: ValohaiClient, delivery: Any, org_id: int, projects: dict[str, str], value: str) -> PushResult:
    """Create or update the delivery's group so it holds the variable as a secret and is assigned to
    ``projects``. The create is guarded by a lookup and never retried blindly: after an ambiguous failure the
    next attempt finds the group if the create landed, and updates it (which sends the value again)."""
    name, variable = group_name(delivery.cfg.variable), delivery.cfg.variable
    ours = {"name": variable, "value": value, "secret": True}
    wanted = sorted(projects)
    group = find_group(api, org_id, name)
    if group is None:
        try:
            group = dict(
                api.call(
                    "POST",
                    api.url + group_path(),
                    retry=http.NO_RETRY,
                    json={"organization": org_id, "name": name, "variables": [ours], "projects": wanted},
                )
            )
        except ValohaiError as exc:
            if not (exc.exists or exc.conflict):
                raise _endpoint_errors(exc) from None
            # A 400/409 of any wording: read back; the group may exist (e.g. an earlier, lost answer created it).
            group = find_group(api, org_id, name)
            if group is None:
                raise
            group = _update(api, group, ours, wanted)
    else:
        group = _update(api, group, ours, wanted)
    now, fingerprint = timezone.now().isoformat(), delivery.feed.fingerprint
    states = {
        pid: {"name": projects[pid], "status": DELIVERED, "pushed_at": now, "fingerprint": fingerprint, "error": ""}
        for pid in wanted
    }
    return PushResult(detail={"group": {"id": group.get("id"), "name": name}, "projects": states})


def _update(api: ValohaiClient, group: dict[str, Any], ours: dict[str, Any], projects: list[str]) -> dict[str, Any]:
    # Other variables go back with their values as read (secrets as null, which keeps them: see module doc).
    others = [
        {"name": v.get("name"), "value": v.get("value"), "secret": bool(v.get("secret"))}
        for v in group.get("variables") or []
        if v.get("name") != ours["name"]
    ]
    try:
        return dict(
            api.call(
                "PATCH",
                f"{api.url}{group_path()}{group['id']}/",
                retry=http.NO_RETRY,
                json={"variables": [*others, ours], "projects": projects},
            )
        )
    except ValohaiError as exc:
        if exc.status == 404:  # deleted since we listed it: the next attempt creates it again
            raise ValohaiError(
                f"The group {group.get('name')} vanished while being updated.", permanent=False, status=404
            ) from None
        raise _endpoint_errors(exc) from None


def read_group(api: ValohaiClient, delivery: Any, group_id: str | None, org_id: int) -> dict[str, Any] | None:
    """The delivery's group as Valohai shows it now (by id, else by name), or None."""
    if group_id:
        try:
            return dict(api.call("GET", f"{api.url}{group_path()}{group_id}/"))
        except ValohaiError as exc:
            if exc.status not in (404, 405):
                raise
            if exc.status == 405:
                raise missing_endpoint() from None
    return find_group(api, org_id, group_name(delivery.cfg.variable))


def group_problems(group: dict[str, Any] | None, variable: str, projects: list[str]) -> list[str]:
    """What is wrong with the group for this delivery (empty when it is in place)."""
    if group is None:
        return ["the group does not exist"]
    problems = []
    var = next((v for v in group.get("variables") or [] if v.get("name") == variable), None)
    if var is None:
        problems.append(f"{variable} is not in the group")
    elif not var.get("secret"):
        problems.append(f"{variable} is not secret")
    unassigned = sorted(set(projects) - {str(p) for p in group.get("projects") or []})
    if unassigned:
        problems.append(f"{len(unassigned)} project(s) not assigned: {', '.join(unassigned[:5])}")
    return problems


def verify_group(api: ValohaiClient, delivery: Any, org_id: int, result: PushResult) -> PushResult:
    """Read the group back: the variable is there as a secret and every project is assigned."""
    group = read_group(api, delivery, (result.detail.get("group") or {}).get("id"), org_id)
    problems = group_problems(group, delivery.cfg.variable, sorted(result.detail.get("projects") or {}))
    if problems:
        raise AdapterError("Verification failed: " + "; ".join(problems), permanent=False, secrets=api.secrets)
    return result
