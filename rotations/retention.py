"""Destroying token versions that are no longer needed: a token kept encrypted after it stopped being used is a
secret waiting to leak (a database dump, a key that leaks later), so its ciphertext is wiped once nothing can
need it again. The version row, its fingerprint and its history stay, so the audit trail still names it.

A version is destroyed when it is not the feed's current token and

- its stage is ``revoked``, ``retired`` or ``discarded``, and the feed's ``rotation_grace_hours`` have passed
  since it left service (``revoked_at``, else ``retired_at``, else its creation);
- or its stage is ``previous`` and ``ROTATION_MAX_GRACE_HOURS`` have passed since it was retired (the longest a
  rotation keeps it for clusters that have not restarted);

and no rotation may still need its value: not the previous token of a rotation that is running, failed (it could
be rolled back to it) or has not revoked it yet, nor the new token of a running rotation.

Beat runs :func:`token_versions_destroy` hourly (``dashboard.destroy_retired_tokens``). The engine is not changed:
it never reads a version in those stages, except to revoke or roll back to one, which the rules above keep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from feeds.models import TokenVersion
from rotations.models import Rotation, Status

ACTOR = "retention"
DONE_STAGES = (TokenVersion.Stage.REVOKED, TokenVersion.Stage.RETIRED, TokenVersion.Stage.DISCARDED)


def _still_needed() -> set[int]:
    """Ids of versions a rotation may still read: to revoke them, to roll back to them, or to push them."""
    needed: set[int] = set()
    open_rotations = Rotation.objects.filter(
        Q(status__in=(Status.RUNNING, Status.FAILED)) | Q(revoke_done=False, status=Status.COMPLETED)
    )
    for previous_id, new_id, status in open_rotations.values_list("previous_token_id", "new_token_id", "status"):
        if previous_id:
            needed.add(previous_id)
        if new_id and status == Status.RUNNING:
            needed.add(new_id)
    return needed


def _left_service(version: TokenVersion) -> datetime:
    return version.revoked_at or version.retired_at or version.created_at


def token_versions_destroy(*, now: datetime | None = None) -> int:
    """Wipe the ciphertext of every version past its grace that nothing can need (see the module); each wipe is
    audited with the version's fingerprint. Returns how many were destroyed. Safe to run concurrently: each row is
    claimed with a conditional update."""
    now = now or timezone.now()
    needed = _still_needed()
    max_grace = timedelta(hours=settings.ROTATION_MAX_GRACE_HOURS)
    candidates = (
        TokenVersion.objects.filter(stage__in=(*DONE_STAGES, TokenVersion.Stage.PREVIOUS))
        .exclude(ciphertext="")
        .exclude(pk__in=needed)
        .select_related("feed")
    )
    destroyed = 0
    for version in candidates.iterator():
        feed = version.feed
        if feed.current_token_id == version.pk:
            continue
        grace = (
            max_grace if version.stage == TokenVersion.Stage.PREVIOUS else timedelta(hours=feed.rotation_grace_hours)
        )
        if now - _left_service(version) < grace:
            continue
        with transaction.atomic():
            wiped = (
                TokenVersion.objects.filter(pk=version.pk, stage=version.stage)
                .exclude(ciphertext="")
                .update(ciphertext="")
            )
            if not wiped:
                continue
            audit_record(
                actor=ACTOR,
                action="token.destroy",
                obj=feed,
                detail={"fingerprint": version.fingerprint, "stage": version.stage, "version": version.pk},
            )
        destroyed += 1
    return destroyed
