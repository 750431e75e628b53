"""Health checks of a Valohai organization (docs/platforms.md §2.1-2.4, §6).

One :class:`HealthResult` each for: the token (``users/me/``, what ``vh login`` calls); the organization being
visible; per delivery and project, the variable present as a secret (failing when missing or not secret) with the
last push and whether its fingerprint is the feed's current one (secret values are never returned, so the
fingerprint Feedkeeper kept is all there is); projects a delivery should cover but does not yet (warning); for a
group delivery, the group itself; and whether each feed accepts its token.

Not checked: whether runs inherit the project's variables ("Inherit project's environment variables and secrets").
Valohai does not document that an execution read back shows the flag or its inherited variables, so there is no
sound way to warn about it (docs/platforms.md §2.3); the delivery form says it instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from targets.adapters.base import AdapterError, HealthResult
from targets.adapters.common import FAILING, OK, WARNING, feed_checks
from targets.adapters.valohai_groups import group_problems, read_group

if TYPE_CHECKING:
    from targets.adapters.valohai import ValohaiAdapter
    from targets.adapters.valohai_api import ValohaiClient


def check_health(adapter: ValohaiAdapter, deliveries: list[Any]) -> list[HealthResult]:
    api = adapter.client()
    try:
        me = api.me()
    except AdapterError as exc:
        return [HealthResult("authentication", FAILING, str(exc)), *feed_checks(deliveries)]
    results = [HealthResult("authentication", OK, f"Signed in as {me.get('username') or '?'}.")]
    try:
        org = adapter.organization(api)
        projects = adapter.organization_projects(api, org)
    except AdapterError as exc:
        return [*results, HealthResult("organization", FAILING, str(exc)), *feed_checks(deliveries)]
    results.append(HealthResult("organization", OK, f"{org['name']} (id {org['id']}), {len(projects)} projects."))
    for delivery in deliveries:
        try:
            results.extend(_delivery_checks(adapter, api, delivery, org, projects))
        except AdapterError as exc:
            results.append(HealthResult(f"{delivery.cfg.variable} ({delivery.location})", FAILING, str(exc)))
    results.extend(feed_checks(deliveries))
    return results


def _last_push(entry: dict[str, Any], delivery: Any) -> tuple[str, str]:
    """(status, text) about Feedkeeper's last push to one place, from ``delivery.state``."""
    pushed_at, fingerprint = entry.get("pushed_at"), entry.get("fingerprint")
    if not pushed_at:
        return WARNING, "Feedkeeper has not pushed it yet."
    text = f"last pushed {str(pushed_at)[:16].replace('T', ' ')} (fingerprint {fingerprint}"
    if fingerprint != delivery.feed.fingerprint:
        return WARNING, f"Stale: {text}; the feed's token is now {delivery.feed.fingerprint or 'unset'})."
    return OK, f"{text}, current)."


def _delivery_checks(
    adapter: ValohaiAdapter, api: ValohaiClient, delivery: Any, org: dict[str, Any], org_projects: dict[str, str]
) -> list[HealthResult]:
    state = delivery.state.get("projects") or {}
    every = delivery.cfg.projects == ["*"]
    wanted = dict(org_projects) if every else {pid: org_projects.get(pid, pid) for pid in delivery.cfg.projects}
    covered = adapter.covered(delivery)
    out: list[HealthResult] = []
    uncovered = [wanted[pid] for pid in wanted if pid not in covered]
    if uncovered:
        out.append(
            HealthResult(
                f"{delivery.cfg.variable} coverage",
                WARNING,
                f"Not covered yet: {', '.join(sorted(uncovered)[:10])}"
                + (" …" if len(uncovered) > 10 else "")
                + " (the next push or reconcile adds them).",
            )
        )
    if delivery.mode == "organization_group":
        group = read_group(api, delivery, (delivery.state.get("group") or {}).get("id"), org["id"])
        problems = group_problems(group, delivery.cfg.variable, sorted(pid for pid in wanted if pid in covered))
        name = f"group {(group or {}).get('name') or delivery.location}"
        if problems:
            out.append(HealthResult(name, FAILING, "; ".join(problems) + "."))
        else:
            status, text = _last_push(next(iter(state.values()), {}), delivery)
            out.append(HealthResult(name, status, f"{delivery.cfg.variable} present as a secret; {text}"))
        return out
    for pid in sorted((p for p in wanted if p in covered), key=lambda p: wanted[p]):
        out.append(_project_check(api, delivery, pid, wanted[pid], state.get(pid) or {}))
    return out


def _project_check(
    api: ValohaiClient, delivery: Any, project_id: str, label: str, entry: dict[str, Any]
) -> HealthResult:
    name = f"{delivery.cfg.variable} in {label}"
    try:
        var = (api.project(project_id).get("environment_variables") or {}).get(delivery.cfg.variable)
    except AdapterError as exc:
        return HealthResult(name, FAILING, f"Cannot read the project: {exc}")
    _, pushed = _last_push(entry, delivery)
    if var is None:
        return HealthResult(name, FAILING, f"Missing from the project; {pushed}")
    if not var.get("secret"):
        return HealthResult(name, FAILING, f"Present but not secret: any project member can read it; {pushed}")
    status, pushed = _last_push(entry, delivery)
    return HealthResult(name, status, f"Present as a secret; {pushed}")
