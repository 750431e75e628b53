"""/metrics: absent unless a token or networks are set, refused without them, and read from the database with a
bounded number of queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from feeds.models import Feed
from targets.models import Target

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_do_not_exist_until_a_token_or_network_is_set(client: Client, settings: object) -> None:
    assert client.get("/metrics").status_code == 404


def test_a_missing_or_wrong_token_is_refused(client: Client, settings: object) -> None:
    settings.METRICS_TOKEN = "scrape-token"  # type: ignore[attr-defined]
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 403


def test_the_network_setting_admits_only_its_clients(client: Client, settings: object) -> None:
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]  # type: ignore[attr-defined]
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.5").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_metrics_report_expiry_health_deliveries_and_notifications(
    client: Client, settings: object, make_feed: Callable[..., Feed], target: Target
) -> None:
    settings.METRICS_TOKEN = "scrape-token"  # type: ignore[attr-defined]
    feed = make_feed(expires_at=timezone.now() + timedelta(days=10))
    Target.objects.filter(pk=target.pk).update(
        credential_expires_at=timezone.now() - timedelta(hours=1), health="failing"
    )
    for i in range(5):
        make_feed(name=f"more-{i}", token=f"token-number-{i}", expires_at=timezone.now() + timedelta(days=50))
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert len(queries) <= 6
    found = samples(response.content.decode())
    seconds = found[
        ("feedkeeper_feed_token_expiry_seconds", (("feed", "team-feed"), ("fingerprint", feed.fingerprint)))
    ]
    assert 9 * 86400 < seconds <= 10 * 86400
    assert found[("feedkeeper_target_credential_expiry_seconds", (("kind", "databricks"), ("target", "ws-prod")))] < 0
    health = ("feedkeeper_target_health", (("kind", "databricks"), ("status", "failing"), ("target", "ws-prod")))
    assert found[health] == 1.0
    assert found[("feedkeeper_notifications", (("status", "failed"),))] == 0.0
    assert ("feedkeeper_pushes", (("status", "succeeded"),)) in found
    assert ("feedkeeper_deliveries", (("status", "delivered"),)) in found
