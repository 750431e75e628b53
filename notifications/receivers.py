"""How notifications follow feeds, targets and rotations without them importing this app: hooks and signals they
send, connected here from :meth:`NotificationsConfig.ready`. Each receiver runs inside the sender's transaction, so
the notification row commits (or rolls back) with the change that caused it."""

from __future__ import annotations

from typing import Any

from feeds import hooks as feed_hooks
from findings import signals as finding_signals
from notifications import emit
from rotations import signals as rotation_signals
from targets import hooks as target_hooks
from targets import signals as target_signals


def _feed_secrets(feed: Any) -> list[str]:
    """The feed's stored tokens, to redact from texts that quote a platform's error (defence in depth: the HTTP
    seam already redacts them)."""
    from core.crypto import DecryptionError

    found = []
    for version in feed.token_versions.all()[:5]:
        try:
            found.append(version.reveal())
        except DecryptionError:
            continue
    return found


def on_token_expiry_changed(feed: Any) -> None:
    emit.feed_expiry_evaluate(feed)


def on_credential_expiry_changed(target: Any) -> None:
    emit.target_expiry_evaluate(target)


def on_push_failed(sender: Any, *, push: Any, error: str, **kwargs: Any) -> None:
    emit.push_failure(push=push, error=error, secrets=_feed_secrets(push.delivery.feed))


def on_health_checked(sender: Any, *, target: Any, previous: str, current: str, check: Any, **kwargs: Any) -> None:
    emit.health_transition(target=target, previous=previous, current=current, check_id=check.pk)


def on_rotation_finished(sender: Any, *, rotation: Any, status: str, **kwargs: Any) -> None:
    secrets = _feed_secrets(rotation.feed) if rotation.feed_id else []
    emit.rotation_outcome(rotation=rotation, status=status, secrets=secrets)


def on_finding_opened(sender: Any, *, finding: Any, reopened: bool = False, scan: Any = None, **kwargs: Any) -> None:
    emit.finding_opened(finding=finding, reopened=reopened, scan=scan)


def register() -> None:
    """Connect the receivers above (idempotent: ``dispatch_uid`` and the hook registries ignore repeats)."""
    feed_hooks.register(feed_hooks.on_token_expiry_changed, on_token_expiry_changed)
    feed_hooks.register(target_hooks.on_credential_expiry_changed, on_credential_expiry_changed)
    target_signals.push_failed.connect(on_push_failed, dispatch_uid="notifications.push_failed")
    target_signals.health_checked.connect(on_health_checked, dispatch_uid="notifications.health_checked")
    rotation_signals.rotation_finished.connect(on_rotation_finished, dispatch_uid="notifications.rotation_finished")
    finding_signals.finding_opened.connect(on_finding_opened, dispatch_uid="notifications.finding_opened")
