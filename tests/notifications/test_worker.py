"""End to end with a real worker: a token saved through the API that is about to expire reaches a webhook, a Slack
hook and a mailbox exactly once, and the canary token is in no notification row, body, e-mail or worker log."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.core import serializers
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Notification
from notifications.tasks import sweep_notifications
from simulators.webhook_receiver import WebhookReceiver
from tests.support.leaks import database_dump
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.worker


def wait_until_settled(expected: int, timeout: float = 30) -> list[Notification]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(Notification.objects.order_by("pk"))
        if len(rows) >= expected and all(r.status != "pending" for r in rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"still pending: {[(r.pk, r.status, r.error) for r in Notification.objects.all()]}")


def test_a_real_worker_delivers_each_notification_once_and_no_canary_leaks(
    celery_worker_process: WorkerProcess, admin: User, api: Callable[[User], APIClient]
) -> None:
    receiver = WebhookReceiver().start()
    try:
        client = api(admin)
        for name, kind, target in [
            ("hook", "webhook", receiver.url("/hook/secret-hook-part")),
            ("slack", "slack", receiver.url("/services/T0/B0/slacksecretpart")),
            ("mail", "email", "ops@example.com"),
        ]:
            response = client.post(
                "/api/v1/notification-channels/",
                {"name": name, "kind": kind, "target": target, "events": ["token.expiring", "token.expired"]},
                format="json",
            )
            assert response.status_code == 201, response.content
        canary = "canary-" + uuid4().hex
        expires = (timezone.now() + timedelta(days=5)).isoformat()
        response = client.post(
            "/api/v1/feeds/",
            {
                "name": "canary-feed",
                "index_url": "https://pkgs.example.com/simple/",
                "token": canary,
                "token_expires_at": expires,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        rows = wait_until_settled(3)
        assert [(r.event, r.status) for r in rows] == [("token.expiring", "sent")] * 3
        # Beat's sweep and expiry runs, again and again, send nothing twice.
        for _ in range(3):
            sweep_notifications.delay()
        time.sleep(2)
        bodies = receiver.bodies()
        assert len(bodies) == 2
        hook = next(b for b in bodies if "object" in b)
        assert hook["event"] == "token.expiring" and hook["object"]["name"] == "canary-feed"
        assert any("blocks" in b for b in bodies)
        assert "notifications.deliver" in celery_worker_process.log()

        leaks = [canary, "secret-hook-part", "slacksecretpart"]
        raw = b"\n".join(r.body for r in receiver.received).decode()
        assert canary not in raw
        rows_json = serializers.serialize("json", Notification.objects.all())
        assert not [leak for leak in leaks if leak in rows_json]
        worker_log = celery_worker_process.log()
        assert "ops@example.com" in worker_log  # the console mail backend printed the e-mail
        assert not [leak for leak in leaks if leak in worker_log]
        dump = database_dump()
        assert "notifications_notification" in dump
        assert not [leak for leak in leaks if leak in dump]
        for path in ("/api/v1/notifications/", "/api/v1/notification-channels/"):
            text = client.get(path).content.decode()
            assert not [leak for leak in leaks if leak in text]
    finally:
        receiver.stop()
