"""Querysets the targets pages, the overview and template tags share. Imports models only, so template tags can use
it without importing views or forms."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from targets.health import Health
from targets.models import Delivery, DeliveryStatus, Push, Target

STATUS_ORDER = [s.value for s in DeliveryStatus]
NEEDS_ATTENTION = (Health.FAILING, Health.WARNING)


def with_delivery_counts(qs: QuerySet[Target]) -> QuerySet[Target]:
    """Annotate ``n_deliveries`` and ``n_<status>`` (one per delivery status) for the state summary."""
    counts = {f"n_{s}": Count("deliveries", filter=Q(deliveries__status=s)) for s in STATUS_ORDER}
    return qs.annotate(n_deliveries=Count("deliveries"), **counts)


def with_open_push(qs: QuerySet[Delivery]) -> QuerySet[Delivery]:
    """Annotate ``open_push``: whether a push of the delivery is pending or running, so its row shows it as
    pushing (and keeps polling) from the moment it is requested, not only once a worker picks it up."""
    return qs.annotate(open_push=Exists(Push.objects.open().filter(delivery=OuterRef("pk"))))


def targets_health() -> dict[str, list[Target]]:
    """Every target with its delivery counts (``targets``), and those whose health needs attention
    (``attention``: failing or warning)."""
    targets = list(with_delivery_counts(Target.objects.all()))
    return {"targets": targets, "attention": [t for t in targets if t.health in NEEDS_ATTENTION]}
