"""``/metrics`` for Prometheus: read from the database on every scrape by one custom collector (a bounded number of
queries), so any web process answers for the whole installation: the web, worker and beat processes keep no
counters of their own.

Protected by ``METRICS_TOKEN`` (``Authorization: Bearer``) and/or ``METRICS_ALLOWED_NETWORKS`` (the client's
address): when both are set both must match; when neither is set the endpoint does not exist (404)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from feeds.models import Feed
from notifications.models import Notification, NotificationStatus
from targets.health import Health
from targets.models import Delivery, DeliveryStatus, Push, PushStatus, Target


class FeedkeeperCollector(Collector):
    """Seconds until each feed token and target credential expires (negative: expired), notification states,
    target health, delivery states and push outcomes. Six queries per scrape, whatever the size."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        token = GaugeMetricFamily(
            "feedkeeper_feed_token_expiry_seconds",
            "Seconds until the feed's current token expires (negative: expired); absent when unknown.",
            labels=["feed", "fingerprint"],
        )
        for name, fp, expires in Feed.objects.filter(current_token__expires_at__isnull=False).values_list(
            "name", "current_token__fingerprint", "current_token__expires_at"
        ):
            if expires is not None:
                token.add_metric([name, fp], (expires - now).total_seconds())
        yield token

        credential = GaugeMetricFamily(
            "feedkeeper_target_credential_expiry_seconds",
            "Seconds until the target's credential expires (negative: expired); absent when unknown.",
            labels=["target", "kind"],
        )
        health = GaugeMetricFamily(
            "feedkeeper_target_health",
            "1 for the target's current health status, 0 for the others.",
            labels=["target", "kind", "status"],
        )
        for name, kind, expires, state in Target.objects.values_list("name", "kind", "credential_expires_at", "health"):
            if expires is not None:
                credential.add_metric([name, kind], (expires - now).total_seconds())
            for status in Health.values:
                health.add_metric([name, kind, status], 1.0 if state == status else 0.0)
        yield credential
        yield health

        yield _counts(
            "feedkeeper_notifications",
            "Notifications by delivery status.",
            Notification.objects.values("status").annotate(n=Count("id")).values_list("status", "n"),
            NotificationStatus.values,
        )
        yield _counts(
            "feedkeeper_deliveries",
            "Deliveries by status.",
            Delivery.objects.values("status").annotate(n=Count("id")).values_list("status", "n"),
            DeliveryStatus.values,
        )
        yield _counts(
            "feedkeeper_pushes",
            "Push records by status (outcomes: succeeded, failed; still open: pending, running).",
            Push.objects.values("status").annotate(n=Count("id")).values_list("status", "n"),
            PushStatus.values,
        )


def _counts(name: str, documentation: str, rows: object, statuses: list[str]) -> GaugeMetricFamily:
    found = dict(rows)  # type: ignore[call-overload]
    family = GaugeMetricFamily(name, documentation, labels=["status"])
    for status in statuses:
        family.add_metric([status], float(found.get(status, 0)))
    return family


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(FeedkeeperCollector())


def _allowed(request: HttpRequest) -> bool:
    token, networks = settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        raise Http404()
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return False
    if networks:
        try:
            client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        if not any(client in ipaddress.ip_network(net.strip(), strict=False) for net in networks if net.strip()):
            return False
    return True


@login_not_required
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition; 403 when the token or the network does not match, 404 when not set up."""
    if not _allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
