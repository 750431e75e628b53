"""Project environment variables on Valohai (docs/platforms.md §2.3): putting one secret variable in place in each
project of a delivery, safely, and reading it back.

Why the write is shaped the way it is:

- There is no update endpoint: ``POST projects/{id}/environment_variable/`` either overwrites an existing name
  (2xx) or refuses it; which one a given installation does, and with which status (400 or 409) and wording, is
  unknown (§2.3, §7.1). So a 400 or 409 that does not blame another field is settled by reading the project back:
  when the name is there, the variable is deleted (JSON body ``{"name"}``) and created again; when it is not,
  the refusal is real (permanent). A name that exists never ends in a permanent failure.
- A create POST is never retried blindly (§2.5, §6). After an ambiguous failure (no answer, 5xx, 429) the project
  is re-read. If the name is absent, POSTing again cannot duplicate anything. If it is present, a re-read cannot
  tell the old value from the new one, because secret values come back as ``null``; the only way to be *sure* the
  new value landed is to delete it and create it again, accepting a brief gap. Right after our own delete, a
  secret of that name found by a re-read is ours.
- Once we have deleted a variable, the project is without it until the create succeeds. So the create is retried
  in place (with a re-read before each retry, and honouring ``Retry-After``) before giving up, and a project left
  without the variable is recorded as ``missing`` so the admin (and the next attempt) can see it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from targets.adapters.base import AdapterError, PushResult
from targets.adapters.valohai_api import RETRY, ValohaiClient, ValohaiError

IN_PLACE_ATTEMPTS = 4
MAX_IN_PLACE_WAIT = 10.0
DELIVERED, FAILED, MISSING, GONE = "delivered", "failed", "missing", "gone"

sleep: Callable[[float], None] = time.sleep  # tests may replace it


@dataclass
class Outcome:
    """What happened in one project during one push."""

    status: str
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None
    notes: list[str] = field(default_factory=list)


def _wait(attempt: int, retry_after: float | None) -> None:
    sleep(min(RETRY.delay(attempt, retry_after), MAX_IN_PLACE_WAIT))


def put_variable(api: ValohaiClient, project_id: str, name: str, value: str, *, known: bool = False) -> str:
    """Make sure the secret ``name`` in project ``project_id`` holds ``value``. Returns how (``created or
    overwritten`` or ``re-created``). Raises :class:`ValohaiError`, with ``missing`` set when this call deleted the
    variable and could not create it again (the project is then without it). ``known``: Feedkeeper's last push
    delivered the name there, so a refused POST means it exists and the project need not be read to tell."""
    progress = {"deleted": False}
    try:
        return _put(api, project_id, name, value, progress, known=known)
    except ValohaiError as exc:
        exc.missing = progress["deleted"]
        raise


def _read(api: ValohaiClient, project_id: str, name: str) -> dict[str, Any] | None:
    """The variable ``name`` as the project shows it now (``{"value": None, "secret": True}`` for a secret), or
    None when the project has no such name."""
    current = (api.project(project_id).get("environment_variables") or {}).get(name)
    return dict(current) if isinstance(current, dict) else None


def _put(api: ValohaiClient, project_id: str, name: str, value: str, progress: dict[str, bool], *, known: bool) -> str:
    last: ValohaiError | None = None
    for attempt in range(IN_PLACE_ATTEMPTS):
        try:
            api.create_variable(project_id, name, value)
            return "re-created" if progress["deleted"] else "created or overwritten"
        except ValohaiError as exc:
            if exc.conflict:
                # A 400 or 409, worded however this installation words it: whether a POST of an existing name is
                # refused is not documented (docs/platforms.md §2.3), so the project is read back to decide, unless
                # our last push delivered the name there (deleted since, the DELETE's 404 is as good, and a real
                # refusal comes back from the POST after it).
                if not (known and not progress["deleted"]) and _read(api, project_id, name) is None:
                    raise  # the name is not there: a real refusal of the request
                api.delete_variable(project_id, name)  # it exists: delete, then create (a 404 here is as good)
                progress["deleted"] = True
                last = _still_exists(name, exc)
                continue
            if exc.permanent:
                raise
            last = exc
        # Ambiguous: the POST may have been applied. Re-read before sending anything again.
        _wait(attempt, last.retry_after)
        current = _read(api, project_id, name)
        if current is None:
            continue  # absent: a new POST cannot duplicate anything
        if progress["deleted"] and current.get("secret"):
            return "re-created"  # we deleted it ourselves, so the secret there now is the one we sent
        # Present, but secret values read back as null: only delete-then-create proves the new value landed.
        api.delete_variable(project_id, name)
        progress["deleted"] = True
    raise last or ValohaiError(f"Could not create {name} after deleting it.", permanent=False)


def _still_exists(name: str, exc: ValohaiError) -> ValohaiError:
    """The error left when every attempt found the name back after deleting it: transient, never permanent, since
    the name exists (someone else may be re-creating it meanwhile)."""
    return ValohaiError(
        f"Valohai kept refusing {name} as existing after it was deleted (HTTP {exc.status}): {exc}",
        permanent=False,
        status=exc.status,
    )


def push_projects(
    api: ValohaiClient, delivery: Any, projects: dict[str, str], value: str, *, every_project: bool
) -> PushResult:
    """Push the secret to every project in ``projects`` (uuid → name). Outcomes per project go into
    ``detail["projects"]``; the push goes on past failing projects and then raises: permanent when any project
    refused permanently (the admin must act), else transient naming how many failed (the retry is idempotent).
    Bad credentials stop at once. With ``every_project`` a project that vanished meanwhile is skipped."""
    name, fingerprint = delivery.cfg.variable, delivery.feed.fingerprint
    previous = dict(delivery.state.get("projects") or {})
    states: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    transient: list[tuple[str, ValohaiError]] = []
    permanent: list[tuple[str, ValohaiError]] = []
    for project_id, project_name in projects.items():
        label = project_name or project_id
        before = dict(previous.get(project_id) or {})
        entry = {k: before.get(k) for k in ("pushed_at", "fingerprint")} | {"name": project_name or before.get("name")}
        try:
            put_variable(api, project_id, name, value, known=before.get("status") == DELIVERED)
        except ValohaiError as exc:
            if exc.status in (401, 403):
                raise AdapterError(
                    str(exc), permanent=True, status=exc.status, detail={"projects": {**previous, **states}}
                ) from None
            gone = exc.status == 404
            status = MISSING if exc.missing else (GONE if gone else FAILED)
            if gone and every_project:
                notes.append(f"Project {label} no longer exists; skipped.")
                states[project_id] = entry | {"status": GONE, "error": "The project no longer exists."}
                continue
            states[project_id] = entry | {"status": status, "error": str(exc)}
            (permanent if exc.permanent else transient).append((label, exc))
            continue
        states[project_id] = entry | {
            "status": DELIVERED,
            "pushed_at": timezone.now().isoformat(),
            "fingerprint": fingerprint,
            "error": "",
        }
    detail = {"projects": states}
    failed = permanent + transient
    if failed:
        names = ", ".join(label for label, _ in failed[:5]) + (" …" if len(failed) > 5 else "")
        first = failed[0][1]
        message = f"{len(failed)} of {len(projects)} projects failed ({names}); first error: {first}"
        missing = [pid for pid, s in states.items() if s["status"] == MISSING]
        if missing:
            message += f" {len(missing)} project(s) are without {name} until the next attempt."
        retry_after = max((e.retry_after or 0 for _, e in transient), default=0) or None
        raise AdapterError(
            message, permanent=bool(permanent), retry_after=retry_after, secrets=api.secrets, detail=detail
        )
    return PushResult(notes=notes, detail=detail)


def verify_projects(api: ValohaiClient, delivery: Any, result: PushResult) -> PushResult:
    """Read every delivered project back: the name must be there with ``secret: true`` (values are null, so the
    delivered fingerprint is what Feedkeeper keeps; docs/platforms.md §2.3, §6)."""
    name = delivery.cfg.variable
    states = result.detail.get("projects") or {}
    bad: list[str] = []
    for project_id, entry in states.items():
        if entry.get("status") != DELIVERED:
            continue
        label = entry.get("name") or project_id
        try:
            var = (api.project(project_id).get("environment_variables") or {}).get(name)
        except ValohaiError as exc:
            if exc.status in (401, 403):
                raise
            problem = str(exc)
        else:
            problem = "missing" if var is None else ("" if var.get("secret") else "not secret")
        if problem:
            bad.append(f"{label} ({problem})")
            entry.update(status=FAILED, error=f"Verification: {problem}")
    if bad:
        raise AdapterError(
            f"Verification failed: {name} is not in place as a secret in {len(bad)} project(s): " + ", ".join(bad[:5]),
            permanent=False,
            secrets=api.secrets,
            detail=result.detail,
        )
    return result
