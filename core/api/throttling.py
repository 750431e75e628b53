"""Rate limits, kept in the cache (shared by every process: Redis in production) and answered ``429`` with
``Retry-After``:

- every API request, per API token (or per user for a session): ``API_RATE_LIMIT``;
- expensive actions, per user, the API and the pages together: checks, pushes, scans, rotations, retries and test
  messages, which each reach out to a platform: ``EXPENSIVE_RATE_LIMIT``.

Rates read as DRF's (``"600/minute"``, ``"30/min"``, ``"5/s"``); an empty rate turns that limit off. They are read
from the settings on every request, so a test or an operator's change applies at once.
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from rest_framework.throttling import SimpleRateThrottle

from core.models import ApiToken

# POST views that make Feedkeeper reach out to a platform or feed (view names: the API's and the pages').
EXPENSIVE_VIEWS = frozenset(
    {
        # API
        "feed-check",
        "feed-push",
        "feed-rotate",
        "target-check",
        "target-scan",
        "target-rotate-credential",
        "delivery-push",
        "connection-check",
        "rotation-retry",
        "rotation-rollback",
        "rotation-restart-clusters",
        "notification-channel-test",
        "notification-retry",
        # pages
        "feeds:check",
        "feeds:connection-check",
        "targets:check",
        "targets:push-all",
        "targets:delivery-push",
        "rotations:retry",
        "rotations:rollback",
        "rotations:restart",
        "rotations:rotate",
        "rotations:leaked",
        "rotations:target-rotate",
        "findings:scan",
        "notifications:retry",
        "notifications:channel-test",
    }
)


class _SettingsRateThrottle(SimpleRateThrottle):
    """A cache-backed throttle whose rate is the Django setting ``setting``, read on each request."""

    setting = ""

    def get_rate(self) -> str | None:
        return str(getattr(settings, self.setting, "") or "") or None

    def wait(self) -> float | None:
        # Whole seconds, at least one: Retry-After is an integer and 0 would invite an immediate retry.
        wait = super().wait()
        return None if wait is None else max(1.0, math.ceil(wait))


class ApiRateThrottle(_SettingsRateThrottle):
    """Every API request, per API token (a session: per user)."""

    scope = "api"
    setting = "API_RATE_LIMIT"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiToken):
            ident = f"token-{auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ExpensiveActionThrottle(_SettingsRateThrottle):
    """POSTs to :data:`EXPENSIVE_VIEWS`, per user across the API and the pages."""

    scope = "expensive"
    setting = "EXPENSIVE_RATE_LIMIT"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        match = getattr(request, "resolver_match", None)
        if request.method != "POST" or match is None or match.view_name not in EXPENSIVE_VIEWS:
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"user-{user.pk}"}


class ExpensiveActionThrottleMiddleware:
    """The pages' side of :class:`ExpensiveActionThrottle` (the API applies it as a DRF throttle): a POST over the
    limit is answered ``429`` with ``Retry-After`` before the view runs."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)  # type: ignore[no-any-return]

    def process_view(self, request: HttpRequest, view_func: Any, args: Any, kwargs: Any) -> HttpResponseBase | None:
        if request.method != "POST" or request.path_info.startswith("/api/"):
            return None
        throttle = ExpensiveActionThrottle()
        if throttle.allow_request(request, None):  # type: ignore[arg-type]
            return None
        wait = int(throttle.wait() or 1)
        message = f"Too many checks, pushes, scans or rotations: try again in {wait} seconds."
        if request.headers.get("HX-Request") or "text/html" not in request.headers.get("Accept", ""):
            response: HttpResponseBase = JsonResponse({"detail": message}, status=429)
        else:
            from django.shortcuts import render

            response = render(request, "429.html", {"message": message, "wait": wait}, status=429)
        response["Retry-After"] = str(wait)
        return response
