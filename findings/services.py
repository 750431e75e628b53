"""Findings workflows: request and run a scan of a target, record what it found, and what an admin does with a
finding (ignore it, replace it with a managed delivery, start an emergency rotation of its feed). Each is atomic
and audited in the same transaction. No credential is ever stored, logged, audited or passed to a task: a finding
keeps its fingerprint and a redacted excerpt."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core import checks
from core.models import RunState
from feeds.models import Feed
from findings.detect import candidates
from findings.matching import FeedIndex
from findings.models import Finding, FindingStatus, ScanRun, ScanStatus
from findings.signals import finding_opened
from targets.adapters.base import AdapterError, ScanSource
from targets.models import Delivery, Target

log = logging.getLogger(__name__)

STUCK_SCAN_AFTER = timedelta(minutes=15)
REQUEUE_PENDING_AFTER = timedelta(minutes=2)
MAX_REASON = 500


# --- scans ----------------------------------------------------------------------------------------------------


def target_scan_request(*, actor: Any, target: Target) -> ScanRun:
    """Record a pending scan of ``target`` and enqueue it once committed. Returns the row to poll."""
    from findings.tasks import run_scan

    return checks.request(ScanRun, actor=actor, enqueue=run_scan.delay, target=target)


def scan_pending(target: Target) -> bool:
    """Whether a scan of ``target`` is already waiting or running."""
    return ScanRun.objects.filter(target=target, status__in=RunState.values).exists()


def _read(scan_id: int, target: Target) -> list[ScanSource]:
    """The adapter's scan; a failure to reach the target is one failed part."""
    try:
        return list(target.adapter().scan())
    except AdapterError as exc:
        return [ScanSource("target", error=str(exc))]
    except Exception as exc:
        log.exception("Scan %s failed unexpectedly", scan_id)
        return [ScanSource("target", error=f"Unexpected error: {type(exc).__name__}")]


def target_scan_run(*, scan_id: int) -> ScanRun | None:
    """Run a scan once (claimed race-safely): read the target's places, then record the findings. Returns None
    when the scan is not pending (someone else has it)."""
    if not checks.claim(scan_id, ScanRun.KIND):
        return None
    scan = ScanRun.objects.select_related("target").get(pk=scan_id)
    sources = _read(scan_id, scan.target)
    findings_record(scan=scan, sources=sources)
    return scan


@dataclass
class _Counts:
    opened: int = 0
    reopened: int = 0
    seen: int = 0
    resolved: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"opened": self.opened, "reopened": self.reopened, "seen": self.seen, "resolved": self.resolved}


def findings_record(*, scan: ScanRun, sources: list[ScanSource]) -> ScanRun:
    """Turn what a scan read into findings, in one transaction under the target's row lock (two scans of one
    target never interleave): a credential at a place already known updates that finding (``last_seen``; a
    resolved one opens again); a new one opens a finding and sends ``finding_opened``. Open findings of a part
    read completely that this scan did not see are resolved; those of a failed part are left as they are. Then
    the scan is finished and audited as ``target.scan`` (counts, never values)."""
    index = FeedIndex.load()
    now = timezone.now()
    counts = _Counts()
    done = [s for s in sources if not s.error]
    failed = [s for s in sources if s.error]
    with transaction.atomic():
        # NO KEY: two scans of a target queue up, yet a delivery created meanwhile (a key-share lock) is not blocked.
        target = Target.objects.select_for_update(no_key=True).get(pk=scan.target_id)
        seen: set[int] = set()
        for source in done:
            for value in source.values:
                for candidate in candidates(value.value, index.knows):
                    fingerprint = candidate.fingerprint
                    feed_id, token_match = index.match(candidate, fingerprint)
                    fields = {
                        "source": source.name,
                        "kind": candidate.kind,
                        "excerpt": candidate.excerpt[:300],
                        "host": candidate.host[:255],
                        "feed_id": feed_id,
                        "token_match": token_match,
                        "place": dict(value.place),
                        "editable": value.editable,
                        "last_seen": now,
                        "last_scan": scan,
                    }
                    finding = seen_finding(target, value.location[:300], fingerprint, fields, counts, scan)
                    seen.add(finding.pk)
        gone = Finding.objects.filter(
            target=target, status=FindingStatus.OPEN, source__in=[s.name for s in done]
        ).exclude(pk__in=seen)
        counts.resolved = gone.update(status=FindingStatus.RESOLVED, resolved_at=now, resolution="gone")
        status = ScanStatus.OK if not failed else (ScanStatus.PARTIAL if done else ScanStatus.FAILED)
        summary = [
            {
                "name": s.name,
                "status": "failed" if s.error else "ok",
                "detail": s.error[:500],
                "values": len(s.values),
            }
            for s in sources
        ]
        detail = "; ".join(f"{s.name}: {s.error}" for s in failed) or (
            "Nothing to scan on this platform." if not sources else ""
        )
        checks.finish(scan, status=status, detail=detail, sources=summary, counts=counts.as_dict())
        audit_record(
            actor=scan.requested_by or "scheduler",
            action="target.scan",
            obj=target,
            outcome={
                ScanStatus.OK: AuditEvent.Outcome.SUCCESS,
                ScanStatus.PARTIAL: AuditEvent.Outcome.WARNING,
            }.get(status, AuditEvent.Outcome.FAILURE),
            detail={
                "scan": scan.pk,
                "status": status,
                **counts.as_dict(),
                "open": Finding.objects.filter(target=target, status=FindingStatus.OPEN).count(),
                "failed_parts": [s.name for s in failed],
            },
        )
    return scan


def seen_finding(
    target: Target, location: str, fingerprint: str, fields: dict[str, Any], counts: _Counts, scan: ScanRun
) -> Finding:
    """Create or update the finding of ``fingerprint`` at ``location`` (one row per place and credential)."""
    finding = Finding.objects.filter(target=target, location=location, fingerprint=fingerprint).first()
    if finding is None:
        finding = Finding.objects.create(
            target=target, location=location, fingerprint=fingerprint, first_seen=fields["last_seen"], **fields
        )
        counts.opened += 1
        finding_opened.send(sender=Finding, finding=finding, reopened=False, scan=scan)
        return finding
    if fields["feed_id"] is None:
        fields["feed_id"] = finding.feed_id  # keep a match made before (the feed's URL may have changed since)
    reopen = finding.status == FindingStatus.RESOLVED
    for name, value in fields.items():
        setattr(finding, name, value)
    if reopen:
        finding.status, finding.resolved_at, finding.resolution = FindingStatus.OPEN, None, ""
    finding.save()
    if reopen:
        counts.reopened += 1
        finding_opened.send(sender=Finding, finding=finding, reopened=True, scan=scan)
    else:
        counts.seen += 1
    return finding


def scans_reconcile() -> dict[str, int]:
    """Fail scans stuck running (their worker died) and re-enqueue old pending ones."""
    from findings.tasks import run_scan

    return checks.reconcile(
        ScanRun.KIND,
        stuck_after=STUCK_SCAN_AFTER,
        requeue_after=REQUEUE_PENDING_AFTER,
        enqueue=run_scan.delay,
        stuck_status=ScanStatus.FAILED,
        stuck_detail="The worker running this scan stopped.",
    ).as_dict()


# --- what an admin does with a finding --------------------------------------------------------------------------


def finding_ignore(*, actor: Any, finding: Finding, reason: str) -> Finding:
    """Ignore ``finding`` for ``reason`` (required): rescans keep seeing it but it no longer counts as open."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this finding is ignored."})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"At most {MAX_REASON} characters."})
    with transaction.atomic():
        locked = Finding.objects.select_for_update().get(pk=finding.pk)
        if locked.status == FindingStatus.IGNORED:
            raise ValidationError({"non_field_errors": ["This finding is ignored already."]})
        locked.status, locked.ignored_reason = FindingStatus.IGNORED, reason
        locked.ignored_by = checks.requester(actor)
        locked.ignored_at = timezone.now()
        locked.save(update_fields=["status", "ignored_reason", "ignored_by", "ignored_at"])
        audit_record(
            actor=actor,
            action="finding.ignored",
            obj=locked,
            detail={"target": locked.target_id, "location": locked.location, "reason": reason},
        )
    return locked


@dataclass(frozen=True)
class Replacement:
    """What "Replace with a managed delivery" can do at a finding's place: ``mode`` of the delivery, the
    settings the admin chooses (``needs``), and what happens to the plaintext."""

    mode: str
    needs: tuple[str, ...]
    removes: str
    # The plaintext is removed by a second, explicit step once the delivery is delivered (GitHub: the workflows
    # must read the secret before the variable goes).
    two_step: bool = False


def replacement_for(finding: Finding) -> Replacement | None:
    """How the plaintext at ``finding``'s place can be replaced, or None when Feedkeeper cannot change that place
    (job clusters, policies, libraries, Spark conf, init scripts, groups, GitHub variables: see
    :func:`manual_advice`)."""
    place = finding.place or {}
    if not finding.editable:
        return None
    env_var = place.get("kind") == "cluster" and place.get("field") == "spark_env_vars"
    if finding.target.kind == "databricks" and env_var:
        return Replacement(
            "secret",
            ("scope", "key"),
            f"The cluster's {place.get('name')} is re-pointed at the secret ({{{{secrets/scope/key}}}}) when the "
            "delivery is pushed; a running cluster is edited (and restarts) only with consent, else at its next "
            "restart.",
        )
    if finding.target.kind == "github" and place.get("kind") in ("org_variable", "repo_variable"):
        if place.get("visibility") == "selected":
            return None  # a secret shared with the same repositories needs their names: by hand
        mode = "actions_org_secret" if place["kind"] == "org_variable" else "actions_repo_secret"
        return Replacement(
            mode,
            (),
            f"An Actions secret {place.get('name')} holding the feed's URL is pushed next to the variable. Once it "
            f"is delivered and the workflows read secrets.{place.get('name')} instead of vars.{place.get('name')}, "
            "delete the variable here: Feedkeeper deletes it through GitHub's API.",
            two_step=True,
        )
    if finding.target.kind == "valohai" and place.get("kind") == "project_variable":
        return Replacement(
            "project_variable",
            (),
            f"The variable {place.get('name')} of project {place.get('project')} is replaced by a secret of the "
            "same name when the delivery is pushed.",
        )
    return None


def manual_advice(finding: Finding) -> str:
    """What an admin must do by hand where Feedkeeper cannot change the place."""
    place = finding.place or {}
    kind, field = place.get("kind", ""), place.get("field", "")
    if kind == "job":
        return (
            "Feedkeeper never edits job clusters. Create a secret delivery of the feed, then change the job's "
            "cluster spec to read it ({{secrets/scope/key}}) in the job's settings."
        )
    if kind == "cluster" and field == "spark_env_vars":
        return (
            "This cluster is created by a Databricks service (job, pipeline, SQL or model serving) and cannot be "
            "edited: change the definition that creates it to read a secret."
        )
    if kind == "cluster":
        return (
            f"Feedkeeper re-points only environment variables. Change the cluster's {field} to read a secret "
            "({{secrets/scope/key}}) by hand, or use DATABRICKS_PIP_INDEX_URL with a secret delivery instead."
        )
    if kind == "library":
        return (
            "Reinstall the library without a repo, and give the workspace its package repository through a "
            "workspace_default delivery instead."
        )
    if kind == "policy":
        return (
            "Edit the policy to fix the variable to a secret reference; a secret delivery with this policy id "
            "does that for DATABRICKS_PIP_INDEX_URL."
        )
    if kind == "group_variable":
        return "Mark the variable secret in the organization's group, or let an organization_group delivery own it."
    if kind in ("org_variable", "repo_variable"):
        return (
            "Add an Actions secret delivery (actions_org_secret or actions_repo_secret) of the feed, change the "
            "workflows from vars.NAME to secrets.NAME, then delete the variable in GitHub (Settings, Secrets and "
            "variables, Actions, Variables)."
        )
    return "Remove the credential from this place by hand."


def finding_replace(
    *,
    actor: Any,
    finding: Finding,
    feed: Feed | None = None,
    scope: str = "",
    key: str = "",
    restart_consent: bool = False,
) -> Delivery:
    """Replace the plaintext at ``finding``'s place with a managed delivery of ``feed`` (default: the matched
    feed): Databricks, a ``secret`` delivery (``scope``/``key``) wired to the cluster's same env var; Valohai, a
    ``project_variable`` delivery of the same name in that project. The delivery is created and pushed (with the
    running cluster's ``restart_consent``); the push is what removes the plaintext. The finding is resolved as
    ``replaced`` (a later scan that still sees the plaintext opens it again) and ``finding.replaced`` audited."""
    from targets.services import delivery_create, delivery_push

    with transaction.atomic():
        locked = Finding.objects.select_for_update(of=("self",)).select_related("target", "feed").get(pk=finding.pk)
        if locked.status != FindingStatus.OPEN:
            raise ValidationError({"non_field_errors": [f"This finding is {locked.status}: nothing to replace."]})
        how = replacement_for(locked)
        if how is None:
            raise ValidationError({"non_field_errors": [manual_advice(locked)]})
        feed = feed or locked.feed
        if feed is None:
            raise ValidationError({"feed": "Choose the feed whose URL replaces this credential."})
        if feed.current_token_id is None:
            raise ValidationError({"feed": "The feed has no token to deliver."})
        place = locked.place
        name = str(place.get("name") or "")
        values: dict[str, Any]
        if how.mode == "secret":
            if not scope or not key:
                raise ValidationError({"scope": "Choose the secret scope and key that will hold the URL."})
            role = "extra" if "EXTRA" in name.upper() else "index"
            values = {
                "mode": "secret",
                "role": role,
                "scope": scope,
                "key": key,
                "clusters": [str(place.get("cluster_id"))],
                "env_var": name,
            }
        elif how.mode == "actions_org_secret":
            values = {"mode": how.mode, "variable": name, "visibility": place.get("visibility") or "all"}
        elif how.mode == "actions_repo_secret":
            values = {"mode": how.mode, "variable": name, "repositories": [str(place.get("repository"))]}
        else:
            values = {"mode": "project_variable", "projects": [str(place.get("project_id"))], "variable": name}
        delivery = delivery_create(actor=actor, feed=feed, target=locked.target, **values)
        push = delivery_push(actor=actor, delivery=delivery, restart_consent=restart_consent)
        locked.replaced_by = delivery
        if not how.two_step:
            locked.status, locked.resolution, locked.resolved_at = FindingStatus.RESOLVED, "replaced", timezone.now()
        locked.save(update_fields=["status", "resolution", "resolved_at", "replaced_by"])
        audit_record(
            actor=actor,
            action="finding.replacing" if how.two_step else "finding.replaced",
            obj=locked,
            detail={
                "target": locked.target_id,
                "location": locked.location,
                "fingerprint": locked.fingerprint,
                "feed": feed.pk,
                "delivery": delivery.pk,
                "push": push.pk,
                "restart_consent": restart_consent,
                "plaintext": (
                    "kept until an admin deletes it once the delivery is delivered"
                    if how.two_step
                    else f"removed by the delivery's push: {how.removes}"
                ),
            },
        )
    return delivery


def plaintext_removable(finding: Finding) -> bool:
    """Whether the second step of a two-step replacement may run: the finding is open and its managed delivery
    has been delivered."""
    how = replacement_for(finding)
    delivery = finding.replaced_by
    return bool(
        how is not None
        and how.two_step
        and finding.status == FindingStatus.OPEN
        and delivery is not None
        and delivery.status == "delivered"
    )


def finding_remove_plaintext_request(*, actor: Any, finding: Finding) -> None:
    """Second step of a two-step replacement (GitHub variables): once the managed delivery is delivered, ask a
    worker to delete the plaintext variable. Raises ``ValidationError`` when it may not run yet."""
    from findings.tasks import remove_plaintext

    if not plaintext_removable(finding):
        raise ValidationError(
            {"non_field_errors": ["Replace it with a managed delivery first, and wait until it is delivered."]}
        )
    user = checks.requester(actor)
    transaction.on_commit(lambda: remove_plaintext.delay(finding.pk, user.pk if user else None))


def finding_remove_plaintext_run(*, finding_id: int, user_id: int | None) -> Finding | None:
    """Delete the plaintext variable of ``finding_id`` on its platform (the worker's half of
    :func:`finding_remove_plaintext_request`), then resolve the finding as ``replaced`` and audit
    ``finding.replaced``; a refusal is audited as a failure and the finding stays open."""
    from django.contrib.auth import get_user_model

    from targets.adapters.github.scan import delete_variable

    finding = Finding.objects.select_related("target", "replaced_by").filter(pk=finding_id).first()
    if finding is None or not plaintext_removable(finding):
        return None
    actor: Any = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    adapter = finding.target.adapter()
    try:
        done = delete_variable(adapter.client(), adapter.org, finding.place)
    except AdapterError as exc:
        audit_record(
            actor=actor or "system",
            action="finding.replaced",
            obj=finding,
            outcome=AuditEvent.Outcome.FAILURE,
            detail={"location": finding.location, "error": str(exc)},
        )
        return finding
    with transaction.atomic():
        Finding.objects.filter(pk=finding.pk).update(
            status=FindingStatus.RESOLVED, resolution="replaced", resolved_at=timezone.now()
        )
        audit_record(
            actor=actor or "system",
            action="finding.replaced",
            obj=finding,
            detail={
                "target": finding.target_id,
                "location": finding.location,
                "fingerprint": finding.fingerprint,
                "delivery": finding.replaced_by_id,
                "plaintext": done,
            },
        )
    finding.refresh_from_db()
    return finding


def finding_leaked(*, actor: Any, finding: Finding) -> Any:
    """ "This token leaked": start an emergency rotation of the finding's feed (the old token is revoked as soon
    as the new one is verified everywhere). Returns the rotation."""
    from rotations.services import rotation_request

    if finding.feed is None:
        raise ValidationError({"feed": "This finding matches no feed: rotate the token where it was issued."})
    with transaction.atomic():
        rotation = rotation_request(actor=actor, feed=finding.feed, emergency=True)
        audit_record(
            actor=actor,
            action="finding.leaked",
            obj=finding,
            detail={
                "target": finding.target_id,
                "location": finding.location,
                "feed": finding.feed_id,
                "rotation": rotation.pk,
                "token_match": finding.token_match,
            },
        )
    return rotation
