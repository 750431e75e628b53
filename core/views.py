"""Health: whether the database and the broker answer. The pages live in the apps above core."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from core.health import broker_status, database_status


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """``200 {"database": "ok", "broker": "ok"}``, or ``503`` naming what is down. No auth."""
    body = {"database": database_status(), "broker": broker_status()}
    return JsonResponse(body, status=200 if all(v == "ok" for v in body.values()) else 503)
