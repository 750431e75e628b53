"""Target and delivery workflows: create, update, delete, and what feeds call through their hooks. Each is atomic
and audited in the same transaction. Pushing lives in :mod:`targets.pushing`, health checks in
:mod:`targets.checks`."""

from __future__ import annotations

import copy
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from core.urlpolicy import origin, validate_service_url
from core.validation import ErrorCollector
from targets.adapters import REGISTRY, all_fields, secret_inputs
from targets.checks import target_check_request
from targets.hooks import credential_expiry_changed
from targets.models import Delivery, DeliveryStatus, Push, Target
from targets.pushing import push_request, pushes_request

log = logging.getLogger(__name__)

COMMON_TARGET_FIELDS = ("name", "url", "auth_type", "max_concurrency")
CREDENTIAL_FIELDS = ("credential_expires_at", "credential_rotation_days", "credential_lifetime_days")
LIFETIME_DAYS = (1, 730)


def _split_credential_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Take the credential's expiry and rotation settings out of ``values`` (only those given)."""
    return {name: values.pop(name) for name in CREDENTIAL_FIELDS if name in values}


def _apply_credential_settings(
    target: Target, given: dict[str, Any], *, new_secret: bool, changed: dict[str, list[Any]]
) -> None:
    """Set the credential's entered expiry and rotation schedule on ``target`` (not saved), checked against what
    its adapter can do; record what changed in ``changed``. A new credential without an expiry has none known."""
    cls = _adapter_class(target.kind)
    before = {f: getattr(target, f) for f in (*CREDENTIAL_FIELDS, "credential_expires_source")}
    if new_secret:
        target.credential_set_at = timezone.now()
        target.credential_expires_at, target.credential_expires_source = None, ""
        target.info = {k: v for k, v in target.info.items() if k != "credential_id"}
    if "credential_expires_at" in given:
        expires = given["credential_expires_at"]
        if expires is not None and timezone.is_naive(expires):
            expires = timezone.make_aware(expires)
        if expires is not None or target.credential_expires_source != "platform":
            target.credential_expires_at = expires
            target.credential_expires_source = "entered" if expires is not None else ""
    if "credential_rotation_days" in given:
        days = given["credential_rotation_days"]
        if days is not None and not cls.rotates_credential(target.auth_type):
            raise ValidationError(
                {
                    "credential_rotation_days": f"{cls.label} targets using {target.auth_type} cannot mint their own "
                    "credential; replace it by hand."
                }
            )
        if days is not None and not 1 <= int(days) <= 365:
            raise ValidationError({"credential_rotation_days": "Choose between 1 and 365 days, or none."})
        target.credential_rotation_days = int(days) if days is not None else None
    if not cls.rotates_credential(target.auth_type):
        target.credential_rotation_days = None
    if given.get("credential_lifetime_days") is not None:
        lifetime = int(given["credential_lifetime_days"])
        if not LIFETIME_DAYS[0] <= lifetime <= LIFETIME_DAYS[1]:
            raise ValidationError(
                {"credential_lifetime_days": f"Choose between {LIFETIME_DAYS[0]} and {LIFETIME_DAYS[1]} days."}
            )
        target.credential_lifetime_days = lifetime
    target.credential_next_rotation_at = target.compute_credential_next_rotation()
    for name, old in before.items():
        new = getattr(target, name)
        if new != old:
            changed[name] = [_plain(old), _plain(new)]


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _adapter_class(kind: str) -> Any:
    cls = REGISTRY.get(kind)
    if cls is None:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; choose one of {', '.join(REGISTRY)}."})
    return cls


def _refuse_foreign(values: dict[str, Any], own: set[str], what: str) -> None:
    """Platform settings another platform (or another mode) declares are refused when given a value, so a
    misdirected field never silently disappears."""
    foreign = {k: "Not used by " + what + "." for k, v in values.items() if k not in own and v not in (None, "", [])}
    if foreign:
        raise ValidationError(foreign)


def _target_url(cls: Any, values: dict[str, Any]) -> str:
    """The target's URL (the platform's default when empty), checked; errors keyed ``url``."""
    url = str(values.get("url") or cls.default_url).strip().rstrip("/")
    try:
        return validate_service_url(url, what="URL")
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from None


def _clean_target(kind: str, values: dict[str, Any], *, exclude_pk: int | None = None) -> dict[str, Any]:
    """The common fields checked here, the platform's through its adapter (once the common ones are right).
    Returns the common fields and ``config`` (the adapter's settings); raises every error found at once."""
    cls = _adapter_class(kind)
    values = dict(values)
    errors = ErrorCollector()
    values["name"] = str(values.get("name") or "").strip()
    with errors.check():
        if not values["name"]:
            raise ValidationError({"name": "Enter a name."})
        clash = Target.objects.filter(name__iexact=values["name"])
        if exclude_pk is not None:
            clash = clash.exclude(pk=exclude_pk)
        if clash.exists():
            raise ValidationError({"name": "A target with this name already exists."})
    with errors.check():
        values["url"] = _target_url(cls, values)
    values["auth_type"] = values.get("auth_type") or cls.auth_types[0]
    if values["auth_type"] not in cls.auth_types:
        errors.add(ValidationError({"auth_type": f"For {cls.label} choose one of: {', '.join(cls.auth_types)}."}))
    concurrency = values.get("max_concurrency") or 4
    if not 1 <= int(concurrency) <= 64:
        errors.add(ValidationError({"max_concurrency": "Choose between 1 and 64."}))
    values["max_concurrency"] = int(concurrency)
    own = {f.name for f in cls.target_fields()}
    with errors.check():
        _refuse_foreign(
            {k: v for k, v in values.items() if k not in COMMON_TARGET_FIELDS},
            own,
            f"{cls.label} targets",
        )
    if "url" in errors or "auth_type" in errors:
        errors.raise_any()  # the adapter's checks build on a valid URL and auth type
    cleaned: dict[str, Any] = {}
    with errors.check():
        cleaned = dict(cls.clean_target(values))
    errors.raise_any()
    config = {name: cleaned[name] for name in sorted(own) if cleaned.get(name) not in (None, "", [])}
    return {**{f: cleaned[f] for f in COMMON_TARGET_FIELDS}, "config": config}


def _credential_from(cls: Any, auth_type: str, secrets: dict[str, str]) -> tuple[str, str | None]:
    """(the input's name, the secret given for ``auth_type`` or None)."""
    name = cls.auth_spec(auth_type).secret
    return name, (secrets.get(name) or None)


def _check_secret(value: str, field: str) -> None:
    if value != value.strip() or any(c in value for c in "\r\n\t") or len(value) > 4096:
        raise ValidationError({field: "This must be one line without spaces at its ends, at most 4096 characters."})


def _split_secrets(values: dict[str, Any]) -> dict[str, str]:
    """Take the write-only credential inputs (``token``, ``client_secret``, ...) out of ``values``."""
    return {name: str(values.pop(name) or "") for name in list(secret_inputs()) if name in values}


def _create_checks(
    kind: str, values: dict[str, Any], secrets: dict[str, str], credential_settings: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """What ``target_create`` checks before it saves: the definition, the credential and its settings. Returns
    the cleaned definition and the credential; raises every error at once."""
    cls = _adapter_class(kind)
    errors = ErrorCollector()
    cleaned: dict[str, Any] = {}
    with errors.check():
        cleaned = _clean_target(kind, values)
    auth_type = cleaned.get("auth_type") or values.get("auth_type") or cls.auth_types[0]
    field, secret = "", ""
    if auth_type in cls.auth_types:
        field, found = _credential_from(cls, auth_type, secrets)
        secret = found or ""
        with errors.check():
            if not secret:
                raise ValidationError({field: "Enter the credential Feedkeeper uses for this target."})
            _check_secret(secret, field)
        with errors.check():  # on a scratch target: nothing is saved here
            probe = Target(kind=kind, auth_type=auth_type)
            _apply_credential_settings(probe, credential_settings, new_secret=True, changed={})
    errors.raise_any()
    return cleaned, secret


def target_validate(*, target: Target | None = None, kind: str = "", **values: Any) -> None:
    """Every error ``target_create`` (no ``target``) or ``target_update`` (of ``target``) would raise for
    ``values``, at once, changing nothing: what the form's ``clean`` calls so that a taken name or a refused URL
    comes in the same answer as its own errors."""
    values = dict(values)
    secrets = _split_secrets(values)
    credential_settings = _split_credential_settings(values)
    if target is None:
        _create_checks(kind, values, secrets, credential_settings)
    else:
        _update_checks(target, values, secrets, credential_settings)


@transaction.atomic
def target_create(*, actor: Any, kind: str, **values: Any) -> Target:
    """Register a target and queue its first health check (which also resolves what the target is). Raises
    ``ValidationError`` with every error at once."""
    secrets = _split_secrets(values)
    credential_settings = _split_credential_settings(values)
    cleaned, secret = _create_checks(kind, values, secrets, credential_settings)
    target = Target(kind=kind, **cleaned)
    target.set_credential(secret)
    _apply_credential_settings(target, credential_settings, new_secret=True, changed={})
    target.save()
    credential_expiry_changed(target)
    audit_record(
        actor=actor,
        action="target.create",
        obj=target,
        secrets=[secret],
        detail={
            "kind": kind,
            "url": target.url,
            "auth_type": target.auth_type,
            **target.config,
            "credential_fingerprint": target.credential_fingerprint,
            "credential_expires_at": _plain(target.credential_expires_at),
            "credential_rotation_days": target.credential_rotation_days,
        },
    )
    target_check_request(actor=actor, target=target)
    return target


def _flat(target_or_delivery: Any, common: tuple[str, ...]) -> dict[str, Any]:
    return {**{f: getattr(target_or_delivery, f) for f in common}, **(target_or_delivery.config or {})}


def _update_checks(
    target: Target, changes: dict[str, Any], secrets: dict[str, str], credential_settings: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """What ``target_update`` checks before it changes ``target``: the definition with ``changes``, the
    credential (needed again for a new address or auth type) and its settings. Returns the cleaned definition and
    the new credential (empty: kept); raises every error at once."""
    cls = _adapter_class(target.kind)
    errors = ErrorCollector()
    allowed = set(COMMON_TARGET_FIELDS) | set(all_fields("target"))
    unknown = set(changes) - allowed
    if unknown:
        errors.add(ValidationError({f: "This field cannot be changed." for f in unknown}))
    values = _flat(target, COMMON_TARGET_FIELDS)
    values.update({k: v for k, v in changes.items() if v is not None and k not in unknown})
    cleaned: dict[str, Any] = {}
    with errors.check():
        cleaned = _clean_target(target.kind, values, exclude_pk=target.pk)
    auth_type = cleaned.get("auth_type") or values.get("auth_type") or target.auth_type
    url = cleaned.get("url")
    if url is None and "url" not in errors:
        url = _target_url(cls, values)  # checked by _clean_target already: this one does not raise
    field, secret = "", ""
    if auth_type in cls.auth_types:
        field, found = _credential_from(cls, auth_type, secrets)
        secret = found or ""
        if auth_type != target.auth_type and not secret:
            errors.add(
                ValidationError({"auth_type": "Changing how Feedkeeper authenticates needs the new credential."})
            )
        if url is not None and origin(url) != origin(target.url) and not secret:
            # Configuration rights must not become read rights: the stored credential never follows a new address.
            errors.add(
                ValidationError(
                    {
                        field: "Enter the credential again to point this target at another address: the stored one is "
                        "never sent to a new place unasked."
                    }
                )
            )
        if secret:
            with errors.check():
                _check_secret(secret, field)
        with errors.check():  # on a copy: the target is changed only once everything is right
            probe = copy.copy(target)
            probe.auth_type = auth_type
            _apply_credential_settings(probe, credential_settings, new_secret=bool(secret), changed={})
    errors.raise_any()
    return cleaned, secret


@transaction.atomic
def target_update(*, actor: Any, target: Target, **changes: Any) -> Target:
    """Change a target's definition and, when given, its credential. Raises ``ValidationError`` with every error
    at once and changes nothing then."""
    target = Target.objects.select_for_update().get(pk=target.pk)
    secrets = _split_secrets(changes)
    credential_settings = _split_credential_settings(changes)
    cleaned, secret = _update_checks(target, changes, secrets, credential_settings)
    before, after = _flat(target, COMMON_TARGET_FIELDS), {**cleaned, **cleaned["config"]}
    after.pop("config")
    changed = {f: [before.get(f, ""), after.get(f, "")] for f in sorted(set(before) | set(after))}
    changed = {f: v for f, v in changed.items() if v[0] != v[1]}
    for f, v in cleaned.items():
        setattr(target, f, v)
    if secret:
        previous = target.credential_fingerprint
        target.set_credential(secret)
        changed["credential_fingerprint"] = [previous, target.credential_fingerprint]
        target.info = {k: v for k, v in target.info.items() if k != "oauth"}
    expiry_before = target.credential_expires_at
    _apply_credential_settings(target, credential_settings, new_secret=bool(secret), changed=changed)
    target.save()
    if target.credential_expires_at != expiry_before or secret:
        credential_expiry_changed(target)
    if changed:
        audit_record(
            actor=actor,
            action="target.update",
            obj=target,
            detail={"changed": changed},
            secrets=[secret] if secret else [],
        )
        target_check_request(actor=actor, target=target)
    return target


@transaction.atomic
def target_delete(*, actor: Any, target: Target) -> None:
    """Forget a target and its deliveries. Nothing is removed from the platform."""
    names = [str(d) for d in target.deliveries.select_related("feed")[:50]]
    audit_record(
        actor=actor,
        action="target.delete",
        obj=target,
        detail={"credential_fingerprint": target.credential_fingerprint, "deliveries": names},
    )
    target.delete()


def _clean_delivery(
    target: Target, values: dict[str, Any], *, feed_id: int | None, exclude_pk: int | None = None
) -> dict[str, Any]:
    """Mode and role checked here, the mode's settings by the adapter (which also gets the feed's id as
    ``feed``, for a place that holds several feeds). Returns ``mode``, ``role``, ``location`` and ``config``;
    refuses a place another delivery of the target already writes."""
    cls = _adapter_class(target.kind)
    values = {k: v for k, v in values.items() if v is not None}
    if not values.get("mode"):
        values["mode"] = next(iter(cls.modes))
    if values["mode"] not in cls.modes:
        raise ValidationError({"mode": f"For {cls.label} choose one of: {', '.join(cls.modes)}."})
    values.setdefault("role", "index")
    if values["role"] not in ("index", "extra"):
        raise ValidationError({"role": "Choose index or extra."})
    own = {f.name for f in cls.delivery_fields()}
    _refuse_foreign({k: v for k, v in values.items() if k not in ("mode", "role")}, own, f"{cls.label} deliveries")
    cleaned = dict(cls.clean_delivery({**values, "feed": feed_id}))
    config = {name: cleaned[name] for name in sorted(own) if cleaned.get(name) not in (None, "", [])}
    result = {"mode": cleaned["mode"], "role": cleaned.get("role", "index"), "location": cleaned["location"]}
    result["config"] = config
    others = Delivery.objects.filter(target=target).select_related("feed", "target")
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    for other in others:
        if cls.conflicts({**result, **config}, other):
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"Another delivery already writes {other.location} in {target.name} (feed {other.feed})."
                    ]
                }
            )
    return result


def _delivery_detail(cleaned: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cleaned.items() if k != "config"} | cleaned["config"]


def delivery_create(*, actor: Any, feed: Any, target: Target, **values: Any) -> Delivery:
    """Say where ``feed`` must live in ``target``; the first push is requested at once."""
    cleaned = _clean_delivery(target, values, feed_id=getattr(feed, "pk", None))
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(feed=feed, target=target, **cleaned)
            audit_record(
                actor=actor,
                action="delivery.create",
                obj=delivery,
                detail=_delivery_detail(cleaned) | {"feed": feed.pk, "target": target.pk},
            )
            push_request(delivery=delivery, actor=actor, reason="created")
    except IntegrityError:
        raise ValidationError(
            {"non_field_errors": [f"Another delivery already writes {cleaned['location']} in {target.name}."]}
        ) from None
    return delivery


@transaction.atomic
def delivery_update(*, actor: Any, delivery: Delivery, **changes: Any) -> Delivery:
    """Change where a delivery places the URL; it becomes pending and is pushed again. The old place, if it
    moved, is left as it is (Feedkeeper never deletes what it no longer names). Settings not given keep their
    value; a mode change starts from the new mode's defaults."""
    delivery = (
        Delivery.objects.select_for_update(of=("self",), no_key=True).select_related("target").get(pk=delivery.pk)
    )
    cls = _adapter_class(delivery.target.kind)
    unknown = set(changes) - {"mode", "role"} - set(all_fields("delivery"))
    if unknown:
        raise ValidationError({f: "This field cannot be changed." for f in sorted(unknown)})
    values: dict[str, Any] = {"mode": delivery.mode, "role": delivery.role}
    mode = changes.get("mode") or delivery.mode
    if mode == delivery.mode:
        values.update(delivery.config or {})
    elif mode in cls.modes:
        keep = set(cls.modes[mode].fields)
        values.update({k: v for k, v in (delivery.config or {}).items() if k in keep})
    values.update({k: v for k, v in changes.items() if v is not None})
    cleaned = _clean_delivery(delivery.target, values, feed_id=delivery.feed_id, exclude_pk=delivery.pk)
    before = _flat(delivery, ("mode", "role", "location"))
    after = _delivery_detail(cleaned)
    changed = {f: [before.get(f, ""), after.get(f, "")] for f in sorted(set(before) | set(after))}
    changed = {f: v for f, v in changed.items() if v[0] != v[1]}
    if not changed:
        return delivery
    for f, v in cleaned.items():
        setattr(delivery, f, v)
    delivery.status = DeliveryStatus.PENDING
    delivery.save()
    audit_record(actor=actor, action="delivery.update", obj=delivery, detail={"changed": changed})
    push_request(delivery=delivery, actor=actor, reason="updated")
    return delivery


@transaction.atomic
def delivery_delete(*, actor: Any, delivery: Delivery) -> None:
    """Stop managing a delivery. What was pushed stays on the platform."""
    audit_record(
        actor=actor,
        action="delivery.delete",
        obj=delivery,
        detail={"location": delivery.location, "delivered_fingerprint": delivery.delivered_fingerprint},
    )
    delivery.delete()


def delivery_push(*, actor: Any, delivery: Delivery, restart_consent: bool = False) -> Push:
    """Push one delivery now (operator action)."""
    return push_request(delivery=delivery, actor=actor, restart_consent=restart_consent)


def feed_push_all(*, actor: Any, feed: Any, restart_consent: bool = False) -> list[Push]:
    """Push every delivery of ``feed``."""
    return pushes_request(deliveries=feed.deliveries.all(), actor=actor, restart_consent=restart_consent)


def deliveries_mark_stale(*, feed: Any, actor: Any) -> int:
    """The feed's credentialed URL changed: mark its deliveries stale and request their pushes."""
    with transaction.atomic():
        deliveries = list(feed.deliveries.all())
        Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).exclude(status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.STALE
        )
        pushes_request(deliveries=deliveries, actor="system", reason="stale")
    return len(deliveries)
