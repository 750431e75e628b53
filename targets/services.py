"""Target and delivery workflows: create, update, delete, health checks, and the hooks feeds call. Each is atomic
and audited in the same transaction. Pushing lives in :mod:`targets.pushing`."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core.models import CheckRun
from core.urlpolicy import validate_service_url
from targets.adapters import REGISTRY, AdapterError, HealthResult
from targets.models import Delivery, DeliveryStatus, Health, Push, Target, TargetCheck
from targets.pushing import push_request, pushes_request

log = logging.getLogger(__name__)

TARGET_FIELDS = ("name", "url", "auth_type", "client_id", "organization", "max_concurrency")
DELIVERY_FIELDS = ("mode", "role", "scope", "key", "clusters", "env_var", "policy_id", "projects", "variable")
_RANK: dict[str, int] = {Health.OK: 0, Health.UNKNOWN: 1, Health.WARNING: 1, Health.FAILING: 2}


def _adapter_class(kind: str) -> Any:
    cls = REGISTRY.get(kind)
    if cls is None:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; choose one of {', '.join(REGISTRY)}."})
    return cls


def _clean_target(kind: str, values: dict[str, Any], *, exclude_pk: int | None = None) -> dict[str, Any]:
    cls = _adapter_class(kind)
    values = dict(values)
    values["name"] = str(values.get("name") or "").strip()
    if not values["name"]:
        raise ValidationError({"name": "Enter a name."})
    clash = Target.objects.filter(name__iexact=values["name"])
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": "A target with this name already exists."})
    url = str(values.get("url") or cls.default_url).strip().rstrip("/")
    try:
        values["url"] = validate_service_url(url, what="URL")
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from None
    values["auth_type"] = values.get("auth_type") or cls.auth_types[0]
    if values["auth_type"] not in cls.auth_types:
        raise ValidationError({"auth_type": f"For {cls.label} choose one of: {', '.join(cls.auth_types)}."})
    concurrency = values.get("max_concurrency") or 4
    if not 1 <= int(concurrency) <= 64:
        raise ValidationError({"max_concurrency": "Choose between 1 and 64."})
    values["max_concurrency"] = int(concurrency)
    return dict(cls.clean_target(values))


def _credential_from(auth_type: str, token: str | None, client_secret: str | None, client_id: str) -> str | None:
    """The secret to store for ``auth_type``, or None when none was given. Raises on an incomplete OAuth pair."""
    if auth_type == "oauth_m2m":
        if client_secret and not client_id:
            raise ValidationError({"client_id": "Enter the service principal's client id."})
        return client_secret or None
    return token or None


def _check_secret(value: str, field: str) -> None:
    if value != value.strip() or any(c in value for c in "\r\n\t") or len(value) > 4096:
        raise ValidationError({field: "This must be one line without spaces at its ends, at most 4096 characters."})


@transaction.atomic
def target_create(*, actor: Any, kind: str, token: str = "", client_secret: str = "", **values: Any) -> Target:
    """Register a target and queue its first health check (which also resolves what the target is)."""
    cleaned = _clean_target(kind, values)
    secret = _credential_from(cleaned["auth_type"], token, client_secret, cleaned.get("client_id", ""))
    if not secret:
        field = "client_secret" if cleaned["auth_type"] == "oauth_m2m" else "token"
        raise ValidationError({field: "Enter the credential Feedkeeper uses for this target."})
    _check_secret(secret, "client_secret" if cleaned["auth_type"] == "oauth_m2m" else "token")
    target = Target(kind=kind, **{f: cleaned.get(f, "") for f in TARGET_FIELDS})
    target.set_credential(secret)
    target.save()
    audit_record(
        actor=actor,
        action="target.create",
        obj=target,
        secrets=[secret],
        detail={
            "kind": kind,
            "url": target.url,
            "auth_type": target.auth_type,
            "client_id": target.client_id,
            "organization": target.organization,
            "credential_fingerprint": target.credential_fingerprint,
        },
    )
    target_check_request(actor=actor, target=target)
    return target


@transaction.atomic
def target_update(*, actor: Any, target: Target, token: str = "", client_secret: str = "", **changes: Any) -> Target:
    """Change a target's definition and, when given, its credential."""
    target = Target.objects.select_for_update().get(pk=target.pk)
    unknown = set(changes) - set(TARGET_FIELDS)
    if unknown:
        raise ValidationError({f: "This field cannot be changed." for f in unknown})
    values = {f: getattr(target, f) for f in TARGET_FIELDS}
    values.update({k: v for k, v in changes.items() if v is not None})
    cleaned = _clean_target(target.kind, values, exclude_pk=target.pk)
    secret = _credential_from(cleaned["auth_type"], token, client_secret, cleaned.get("client_id", ""))
    if cleaned["auth_type"] != target.auth_type and not secret:
        raise ValidationError({"auth_type": "Changing how Feedkeeper authenticates needs the new credential."})
    changed = {
        f: [getattr(target, f), cleaned.get(f, "")] for f in TARGET_FIELDS if getattr(target, f) != cleaned.get(f, "")
    }
    for f in TARGET_FIELDS:
        setattr(target, f, cleaned.get(f, ""))
    if secret:
        _check_secret(secret, "client_secret" if cleaned["auth_type"] == "oauth_m2m" else "token")
        previous = target.credential_fingerprint
        target.set_credential(secret)
        changed["credential_fingerprint"] = [previous, target.credential_fingerprint]
        target.info = {k: v for k, v in target.info.items() if k != "oauth"}
    target.save()
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


def _clean_delivery(target: Target, values: dict[str, Any], *, exclude_pk: int | None = None) -> dict[str, Any]:
    cls = _adapter_class(target.kind)
    values = {k: values.get(k) for k in DELIVERY_FIELDS if values.get(k) is not None}
    if not values.get("mode"):
        values["mode"] = next(iter(cls.modes))
    if values["mode"] not in cls.modes:
        raise ValidationError({"mode": f"For {cls.label} choose one of: {', '.join(cls.modes)}."})
    values.setdefault("role", "index")
    if values["role"] not in ("index", "extra"):
        raise ValidationError({"role": "Choose index or extra."})
    cleaned = dict(cls.clean_delivery(values))
    others = Delivery.objects.filter(target=target).select_related("feed")
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    for other in others:
        if cls.conflicts(cleaned, other):
            raise ValidationError(
                {
                    "non_field_errors": [
                        f"Another delivery already writes {other.location} in {target.name} (feed {other.feed})."
                    ]
                }
            )
    return cleaned


def delivery_create(*, actor: Any, feed: Any, target: Target, **values: Any) -> Delivery:
    """Say where ``feed`` must live in ``target``; the first push is requested at once."""
    cleaned = _clean_delivery(target, values)
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(feed=feed, target=target, **cleaned)
            audit_record(
                actor=actor,
                action="delivery.create",
                obj=delivery,
                detail={k: v for k, v in cleaned.items()} | {"feed": feed.pk, "target": target.pk},
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
    moved, is left as it is (Feedkeeper never deletes what it no longer names)."""
    delivery = Delivery.objects.select_for_update(of=("self",)).select_related("target").get(pk=delivery.pk)
    values = {f: getattr(delivery, f) for f in DELIVERY_FIELDS}
    values.update({k: v for k, v in changes.items() if k in DELIVERY_FIELDS and v is not None})
    cleaned = _clean_delivery(delivery.target, values, exclude_pk=delivery.pk)
    changed = {f: [getattr(delivery, f), cleaned[f]] for f in cleaned if getattr(delivery, f) != cleaned[f]}
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


# --- health checks ---------------------------------------------------------------------------------------


def target_check_request(*, actor: Any, target: Target) -> TargetCheck:
    """Record a pending health check and enqueue it on commit."""
    from targets.tasks import run_target_check

    with transaction.atomic():
        check = TargetCheck.objects.create(
            target=target, requested_by=actor if getattr(actor, "is_authenticated", False) else None
        )
        transaction.on_commit(lambda: run_target_check.delay(check.pk))
    return check


def _overall(results: list[HealthResult]) -> str:
    if not results:
        return Health.WARNING
    worst = max(results, key=lambda r: _RANK.get(r.status, 2))
    return Health.OK if worst.status == Health.OK else worst.status


def target_check_run(*, check_id: int) -> TargetCheck | None:
    """Run a target's health checks once (claimed race-safely), store results and the target's health."""
    claimed = CheckRun.objects.filter(pk=check_id, kind=CheckRun.Kind.TARGET, status="pending").update(
        status="running", started_at=timezone.now(), attempts=F("attempts") + 1
    )
    if claimed != 1:
        return None
    check = TargetCheck.objects.select_related("target").get(pk=check_id)
    target = check.target
    adapter = target.adapter()
    deliveries = list(target.deliveries.select_related("feed__current_token"))
    try:
        info = adapter.describe()
        if info:
            target.info = {**target.info, **info}
            updates: dict[str, Any] = {"info": target.info}
            if info.get("organization_id"):  # the resolved numeric id org-scoped calls need (Valohai)
                updates["organization_id"] = str(info["organization_id"])
            Target.objects.filter(pk=target.pk).update(**updates)
        results = adapter.check_health(deliveries)
    except AdapterError as exc:
        results = [HealthResult("reach", Health.FAILING, str(exc))]
    except Exception as exc:
        log.exception("Health check %s failed unexpectedly", check_id)
        results = [HealthResult("internal", Health.FAILING, f"Unexpected error: {type(exc).__name__}")]
    overall = _overall(results)
    now = timezone.now()
    with transaction.atomic():
        check.status, check.results, check.finished_at = overall, [r.as_dict() for r in results], now
        check.detail = "; ".join(f"{r.name}: {r.detail}" for r in results if r.status != Health.OK)[:2000]
        check.save(update_fields=["status", "results", "finished_at", "detail"])
        Target.objects.filter(pk=target.pk).update(health=overall, health_checked_at=now)
        audit_record(
            actor=check.requested_by or "scheduler",
            action="target.check",
            obj=target,
            outcome=AuditEvent.Outcome.SUCCESS if overall == Health.OK else AuditEvent.Outcome.FAILURE,
            detail={
                "check": check.pk,
                "status": overall,
                "failing": [r.name for r in results if r.status != Health.OK],
            },
        )
    return check


def targets_check_all(*, actor: Any = "scheduler") -> list[TargetCheck]:
    return [target_check_request(actor=actor, target=t) for t in Target.objects.all()]


def target_checks_reconcile() -> int:
    """Fail target checks stuck running (their worker died); re-enqueue old pending ones."""
    from targets.tasks import run_target_check

    now = timezone.now()
    failed = CheckRun.objects.filter(
        kind=CheckRun.Kind.TARGET, status="running", started_at__lt=now - timedelta(minutes=10)
    ).update(status=Health.FAILING, finished_at=now, detail="The worker running this check stopped.")
    for pk in CheckRun.objects.filter(
        kind=CheckRun.Kind.TARGET, status="pending", created_at__lt=now - timedelta(minutes=2)
    ).values_list("pk", flat=True):
        run_target_check.delay(pk)
    return failed
