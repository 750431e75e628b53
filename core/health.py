"""Liveness of the two things the app needs: the database and the Celery broker."""

import redis
from django.conf import settings
from django.db import connection


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any failure means down
        return "down"
    return "ok"


def broker_status() -> str:
    if settings.REDIS_URL:
        try:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
            client.ping()
            client.close()
        except Exception:  # noqa: BLE001
            return "down"
        return "ok"
    folder = settings.BROKER_DIR / "queue"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".healthz"
        probe.write_text("ok")
        probe.unlink()
    except OSError:
        return "down"
    return "ok"
