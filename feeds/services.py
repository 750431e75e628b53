"""Feed workflows: create, update, replace the token, delete, and check credentials. Each one is atomic and
writes its audit event in the same transaction. Views, API and tasks call these and nothing else.

Apps that build on feeds (targets) follow them through :mod:`feeds.hooks`; feeds never imports them."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core import checks, crypto
from core.models import CheckRun
from core.urlpolicy import origin, validate_service_url
from core.validation import ErrorCollector
from feeds import hooks, kinds
from feeds.models import CheckStatus, Feed, FeedCheck, TokenVersion
from feeds.probe import probe_index

log = logging.getLogger(__name__)

PART_FIELDS = ("organization", "project", "feed_name", "base_url", "repository")
ROTATION_FIELDS = (
    "rotation_connection",
    "rotation_interval_days",
    "rotation_lead_days",
    "rotation_grace_hours",
    "token_lifetime_days",
)
EDITABLE_FIELDS = ("name", "kind", "index_url", "username", *PART_FIELDS)
# Bounds of the rotation settings (days, hours): a PAT lives at most a year.
ROTATION_BOUNDS = {
    "rotation_interval_days": (1, 365),
    "rotation_lead_days": (0, 180),
    "rotation_grace_hours": (0, 24 * 30),
    "token_lifetime_days": (1, 365),
}
MAX_TOKEN_LENGTH = 4096
STUCK_CHECK_AFTER = timedelta(minutes=10)
REQUEUE_PENDING_AFTER = timedelta(minutes=2)


def validate_token(token: str | None, *, field: str = "token") -> str:
    """A usable token: non-empty, one line, no surrounding spaces. The message never repeats the token."""
    if token is None or token == "":
        raise ValidationError({field: "Enter the token."})
    if token != token.strip() or any(c in token for c in "\r\n\t"):
        raise ValidationError({field: "The token must not contain spaces at its ends, tabs or line breaks."})
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValidationError({field: f"The token is longer than {MAX_TOKEN_LENGTH} characters."})
    return token


def validate_expiry(expires_at: Any, *, field: str = "token_expires_at") -> Any:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({field: "This expiry is in the past: the token has already expired."})
    return expires_at


def resolve_index_url(kind: str, values: dict[str, str]) -> str:
    """The validated index URL for ``kind``: built from its parts, or the entered ``index_url`` for a generic
    feed (or for any kind whose parts are all empty). Raises ``ValidationError`` keyed by field."""
    spec = kinds.REGISTRY.get(kind)
    if spec is None:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; choose one of {', '.join(kinds.REGISTRY)}."})
    has_parts = any(values.get(p, "").strip() for p in spec.parts)
    if spec.parts and has_parts:
        missing = {
            p: "This field is required for this kind of feed."
            for p in spec.required_parts
            if not values.get(p, "").strip()
        }
        if missing:
            raise ValidationError(missing)
        if "base_url" in spec.parts:
            try:
                validate_service_url(values["base_url"], what="base URL")
            except ValidationError as exc:
                raise ValidationError({"base_url": exc.messages}) from None
        url = spec.build_index_url(values)
        field = spec.parts[0]
    else:
        url = values.get("index_url", "").strip()
        field = "index_url"
        if not url and spec.parts:
            raise ValidationError({spec.required_parts[0]: "This field is required for this kind of feed."})
    try:
        return validate_service_url(url, what="index URL")
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


def _check_username(kind: str, username: str) -> None:
    spec = kinds.REGISTRY.get(kind)
    if spec is not None and spec.username_required and not username:
        raise ValidationError({"username": "This kind of feed needs the username that owns the token."})
    if any(c in username for c in "\r\n\t"):
        raise ValidationError({"username": "The username must be on one line."})


def _check_name_free(name: str, exclude_pk: int | None = None) -> None:
    qs = Feed.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise ValidationError({"name": "A feed with this name already exists."})


def _new_feed_values(
    *,
    name: str,
    kind: str,
    token: str | None,
    token_expires_at: Any,
    index_url: str,
    username: str,
    parts: dict[str, Any],
) -> tuple[str, dict[str, Any], str, str]:
    """A new feed's name, rotation settings, index URL and username, checked; ``parts`` loses its rotation
    settings. Raises every error at once."""
    errors = ErrorCollector()
    name = (name or "").strip()
    with errors.check():
        if not name:
            raise ValidationError({"name": "Enter a name."})
        _check_name_free(name)
    rotation: dict[str, Any] = {}
    with errors.check():
        rotation = _clean_rotation(Feed(), kind, parts)
    unknown = set(parts) - set(PART_FIELDS)
    if unknown:
        errors.add(ValidationError({f: "Unknown field." for f in unknown}))
    values = {"index_url": index_url or "", **{p: (parts.get(p) or "") for p in PART_FIELDS}}
    url = ""
    with errors.check():
        url = resolve_index_url(kind, values)
    username = (username or "").strip()
    with errors.check():
        _check_username(kind, username)
    with errors.check():
        validate_token(token)
    with errors.check():
        validate_expiry(token_expires_at)
    errors.raise_any()
    return name, rotation, url, username


def feed_validate(*, feed: Feed | None = None, token_reentered: bool = False, **values: Any) -> None:
    """Every error ``feed_create`` (no ``feed``) or ``feed_update`` (of ``feed``) would raise for ``values``, at
    once, changing nothing: what a form's ``clean`` calls so that a taken name or a refused URL comes in the same
    answer as its own errors."""
    values = dict(values)
    if feed is None:
        _new_feed_values(
            name=values.pop("name", ""),
            kind=values.pop("kind", ""),
            token=values.pop("token", None),
            token_expires_at=values.pop("token_expires_at", None),
            index_url=values.pop("index_url", ""),
            username=values.pop("username", ""),
            parts=values,
        )
    else:
        _updated_feed_values(feed, values, token_reentered=token_reentered)


@transaction.atomic
def feed_create(
    *,
    actor: Any,
    name: str,
    kind: str,
    token: str,
    token_expires_at: Any = None,
    index_url: str = "",
    username: str = "",
    **parts: Any,
) -> Feed:
    """Create a feed with its first token and queue its credential check (run once the feed is committed).
    Raises ``ValidationError`` (field-keyed, every error at once) and changes nothing on bad input."""
    name, rotation, url, username = _new_feed_values(
        name=name,
        kind=kind,
        token=token,
        token_expires_at=token_expires_at,
        index_url=index_url,
        username=username,
        parts=parts,
    )
    values = {p: (parts.get(p) or "") for p in PART_FIELDS}
    feed = Feed.objects.create(
        name=name,
        kind=kind,
        index_url=url,
        username=username,
        **{p: values[p].strip() for p in PART_FIELDS},
        **rotation,
    )
    version = TokenVersion.build(feed=feed, token=token, expires_at=token_expires_at, created_by=_user(actor))
    version.promoted_at = feed.created_at
    version.save()
    feed.current_token = version
    feed.next_rotation_at = feed.compute_next_rotation()
    feed.save(update_fields=["current_token", "next_rotation_at"])
    audit_record(
        actor=actor,
        action="feed.create",
        obj=feed,
        detail={
            "kind": kind,
            "index_url": url,
            "username": username,
            "fingerprint": version.fingerprint,
            "token_expires_at": _iso(token_expires_at),
        },
        secrets=[token],
    )
    feed_check_request(actor=actor, feed=feed)
    hooks.token_expiry_changed(feed)
    return feed


def _clean_rotation(feed: Feed, kind: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Validated rotation settings among ``changes`` (removed from it)."""
    from feeds.models import Connection

    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in ROTATION_FIELDS:
        if field not in changes:
            continue
        value = changes.pop(field)
        if field == "rotation_connection":
            if value in (None, ""):
                cleaned[field] = None
                continue
            connection = value if isinstance(value, Connection) else Connection.objects.filter(pk=value).first()
            if connection is None:
                errors[field] = "No such connection."
            elif kind not in connection.provider.feed_kinds:
                errors[field] = f"A {connection.get_kind_display()} connection cannot mint tokens of this kind of feed."
            else:
                cleaned[field] = connection
            continue
        if value in (None, "") and field == "rotation_interval_days":
            cleaned[field] = None
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            errors[field] = "Enter a whole number."
            continue
        low, high = ROTATION_BOUNDS[field]
        if not low <= number <= high:
            errors[field] = f"Enter a number from {low} to {high}."
            continue
        cleaned[field] = number
    if errors:
        raise ValidationError(errors)
    return cleaned


def _updated_feed_values(
    feed: Feed, changes: dict[str, Any], *, token_reentered: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``feed``'s definition with ``changes`` (``EDITABLE_FIELDS``) and its rotation settings among them, checked.
    Raises every error at once."""
    changes = dict(changes)
    errors = ErrorCollector()
    kind = str(changes.get("kind") or feed.kind)
    rotation: dict[str, Any] = {}
    with errors.check():
        rotation = _clean_rotation(feed, kind, changes)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        errors.add(ValidationError({f: "This field cannot be changed here." for f in unknown}))
        changes = {k: v for k, v in changes.items() if k not in unknown}
    values = {f: getattr(feed, f) for f in EDITABLE_FIELDS}
    values.update({k: ("" if v is None else v) for k, v in changes.items()})
    values["name"] = str(values["name"]).strip()
    with errors.check():
        if not values["name"]:
            raise ValidationError({"name": "Enter a name."})
        _check_name_free(values["name"], exclude_pk=feed.pk)
    if "index_url" in changes and not any(p in changes for p in PART_FIELDS):
        # A URL entered directly replaces the parts it was built from.
        values.update({p: "" for p in PART_FIELDS})
    with errors.check():
        values["index_url"] = resolve_index_url(values["kind"], values)
        if origin(values["index_url"]) != origin(feed.index_url) and feed.current_token_id and not token_reentered:
            raise ValidationError(
                {
                    "token": "Enter the token again to point this feed at another host: the stored one is never sent "
                    "to a new place unasked."
                }
            )
    values["username"] = str(values["username"]).strip()
    with errors.check():
        _check_username(values["kind"], values["username"])
    if values["kind"] != feed.kind and feed.rotation_connection_id and "rotation_connection" not in rotation:
        connection = feed.rotation_connection
        if connection is not None and values["kind"] not in connection.provider.feed_kinds:
            errors.add(ValidationError({"kind": "The feed's rotation connection cannot mint tokens of this kind."}))
    errors.raise_any()
    return values, rotation


@transaction.atomic
def feed_update(*, actor: Any, feed: Feed, token_reentered: bool = False, **changes: Any) -> Feed:
    """Change a feed's definition and rotation settings (not its token). Records which fields changed, old and
    new values. Moving the index to another origin (scheme, host, port) is refused unless the caller sets the
    token again in the same transaction (``token_reentered``): the stored token never follows a new address."""
    feed = Feed.objects.select_for_update().get(pk=feed.pk)
    values, rotation = _updated_feed_values(feed, changes, token_reentered=token_reentered)
    # The username may itself be a secret (Databricks' docs put a PAT there), so only its change is recorded.
    changed = {
        f: ([getattr(feed, f), values[f]] if f != "username" else "changed")
        for f in EDITABLE_FIELDS
        if getattr(feed, f) != values[f]
    }
    for field, value in rotation.items():
        before = getattr(feed, field)
        if before != value:
            changed[field] = [str(before) if before is not None else None, str(value) if value is not None else None]
            setattr(feed, field, value)
    for field in EDITABLE_FIELDS:
        setattr(feed, field, values[field])
    feed.next_rotation_at = feed.compute_next_rotation()
    feed.save()
    if changed:
        audit_record(actor=actor, action="feed.update", obj=feed, detail={"changed": changed})
        if {"index_url", "username"} & set(changed):
            _on_credential_changed(feed, actor=actor)
    return feed


@transaction.atomic
def feed_set_token(
    *, actor: Any, feed: Feed, token: str, expires_at: Any = None, source: str = TokenVersion.Source.MANUAL
) -> TokenVersion:
    """Make ``token`` the feed's current token. The previous version is kept (encrypted) and marked retired.
    A credential check of the new token is queued; deliveries of the feed become stale and are pushed again."""
    validate_token(token)
    validate_expiry(expires_at)
    feed = Feed.objects.select_for_update(of=("self",)).select_related("current_token").get(pk=feed.pk)
    previous = feed.current_token
    now = timezone.now()
    if previous is not None and previous.fingerprint == crypto.fingerprint(token):
        raise ValidationError({"token": "This is the feed's current token already: nothing would change."})
    version = TokenVersion.build(feed=feed, token=token, expires_at=expires_at, created_by=_user(actor), source=source)
    version.promoted_at = now
    version.save()
    if previous is not None:
        # Replaced by hand: Feedkeeper does not revoke it (a rotation would); the admin does.
        TokenVersion.objects.filter(pk=previous.pk).update(retired_at=now, stage=TokenVersion.Stage.RETIRED)
    feed.current_token = version
    feed.next_rotation_at = feed.compute_next_rotation()
    feed.save(update_fields=["current_token", "next_rotation_at", "updated_at"])
    audit_record(
        actor=actor,
        action="feed.token_replace",
        obj=feed,
        detail={
            "fingerprint": version.fingerprint,
            "previous_fingerprint": previous.fingerprint if previous else "",
            "token_expires_at": _iso(expires_at),
            "source": source,
        },
        secrets=[token],
    )
    feed_check_request(actor=actor, feed=feed)
    _on_credential_changed(feed, actor=actor)
    hooks.token_expiry_changed(feed)
    return version


@transaction.atomic
def feed_switch_token(*, actor: Any, feed: Feed, version: TokenVersion, reason: str) -> Feed:
    """Deliver ``version`` (a token of this feed already stored) from now on: the rotation's push and rollback
    steps. Its stage is the caller's business; the deliveries become stale and are pushed again, and the feed's
    credential check is queued."""
    feed = Feed.objects.select_for_update(of=("self",)).select_related("current_token").get(pk=feed.pk)
    if version.feed_id != feed.pk:
        raise ValidationError({"token": "This token belongs to another feed."})
    previous = feed.current_token
    if previous is not None and previous.pk == version.pk:
        return feed
    feed.current_token = version
    feed.save(update_fields=["current_token", "updated_at"])
    audit_record(
        actor=actor,
        action="feed.token_switch",
        obj=feed,
        detail={
            "fingerprint": version.fingerprint,
            "previous_fingerprint": previous.fingerprint if previous else "",
            "reason": reason,
        },
    )
    feed_check_request(actor=actor, feed=feed)
    _on_credential_changed(feed, actor=actor)
    hooks.token_expiry_changed(feed)
    return feed


@transaction.atomic
def feed_set_expiry(*, actor: Any, feed: Feed, expires_at: Any) -> None:
    """Correct the current token's known expiry (the token itself is unchanged)."""
    validate_expiry(expires_at)
    feed = Feed.objects.select_for_update(of=("self",)).select_related("current_token").get(pk=feed.pk)
    if feed.current_token is None:
        raise ValidationError({"token_expires_at": "The feed has no token whose expiry could be set."})
    previous = feed.current_token.expires_at
    TokenVersion.objects.filter(pk=feed.current_token.pk).update(expires_at=expires_at)
    feed.current_token.expires_at = expires_at
    Feed.objects.filter(pk=feed.pk).update(next_rotation_at=feed.compute_next_rotation())
    audit_record(
        actor=actor,
        action="feed.token_expiry_set",
        obj=feed,
        detail={
            "fingerprint": feed.current_token.fingerprint,
            "previous": _iso(previous),
            "token_expires_at": _iso(expires_at),
        },
    )
    hooks.token_expiry_changed(feed)


def _on_credential_changed(feed: Feed, *, actor: Any) -> None:
    """The credentialed URL changed: tell every app that placed it somewhere (their places are now stale)."""
    hooks.credential_changed(feed, actor=actor)


def feed_dependents(feed: Feed) -> list[tuple[str, list[str]]]:
    """What would go with the feed, by kind (``[("deliveries", ["…", …])]``), as the apps building on feeds
    report it; its own tokens and checks are not listed."""
    return hooks.dependents(feed)


@transaction.atomic
def feed_delete(*, actor: Any, feed: Feed) -> None:
    """Delete the feed with its token history, checks and deliveries (what targets hold is left in place)."""
    dependents = feed_dependents(feed)
    audit_record(
        actor=actor,
        action="feed.delete",
        obj=feed,
        detail={"fingerprint": feed.fingerprint, "dependents": {k: v for k, v in dependents}},
    )
    Feed.objects.filter(pk=feed.pk).update(current_token=None)
    feed.delete()


def feed_check_request(*, actor: Any, feed: Feed) -> FeedCheck:
    """Record a pending check of the feed's current token and enqueue it once the row is committed. Returns the
    row to poll."""
    from feeds.tasks import run_feed_check

    return checks.request(FeedCheck, actor=actor, enqueue=run_feed_check.delay, feed=feed, fingerprint=feed.fingerprint)


def feed_check_run(*, check_id: int) -> FeedCheck | None:
    """Run a pending check (claimed race-safely: a check runs once). Returns None if someone else has it."""
    if not checks.claim(check_id, CheckRun.Kind.FEED):
        return None
    check = FeedCheck.objects.select_related("feed__current_token").get(pk=check_id)
    feed = check.feed
    status: str
    if feed.current_token is None:
        status, http_status, detail = CheckStatus.ERROR, None, "The feed has no token to check."
    else:
        try:
            token = feed.current_token.reveal()
        except crypto.DecryptionError as exc:
            status, http_status, detail = CheckStatus.ERROR, None, str(exc)
        else:
            result = probe_index(feed.index_url, feed.effective_username, token)
            status, http_status, detail = result.status, result.http_status, result.detail
    with transaction.atomic():
        checks.finish(check, status=status, detail=detail, http_status=http_status, fingerprint=feed.fingerprint)
        audit_record(
            actor=check.requested_by or "scheduler",
            action="feed.check",
            obj=feed,
            outcome=AuditEvent.Outcome.SUCCESS if status == CheckStatus.OK else AuditEvent.Outcome.FAILURE,
            detail={
                "check": check_id,
                "status": status,
                "http_status": http_status,
                "detail": detail,
                "fingerprint": feed.fingerprint,
            },
        )
    return check


def feeds_check_all(*, actor: Any = "scheduler") -> list[FeedCheck]:
    """Queue a check of every feed that has a token (the scheduled sweep)."""
    return [feed_check_request(actor=actor, feed=f) for f in Feed.objects.filter(current_token__isnull=False)]


def feed_checks_reconcile() -> dict[str, int]:
    """Nothing is lost when a worker dies: re-enqueue checks still pending after a while, and fail checks stuck
    running (the worker that had them is gone). Returns ``{"failed_stuck": n, "requeued": m}``."""
    from feeds.tasks import run_feed_check

    return checks.reconcile(
        CheckRun.Kind.FEED,
        stuck_after=STUCK_CHECK_AFTER,
        requeue_after=REQUEUE_PENDING_AFTER,
        enqueue=run_feed_check.delay,
        stuck_status=CheckStatus.ERROR,
        stuck_detail="The worker running this check stopped before it finished.",
    ).as_dict()


def _user(actor: Any) -> Any:
    return checks.requester(actor)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
