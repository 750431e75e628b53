"""Denied attempts are audited where every one of them passes: a 403 on any page or API call, a 401 from the API.

An anonymous client hammering the API with bad tokens would flood the history, so identical 401 events (same
address, same path) are recorded once per ``AUDIT_UNAUTHORIZED_WINDOW`` seconds per process; the cache key never
contains the token.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.cache import cache
from django.http import HttpRequest, HttpResponseBase

from audit.context import acting, client_ip
from audit.models import AuditEvent
from audit.services import audit_record

AUDIT_UNAUTHORIZED_WINDOW = 60
API_PREFIX = "/api/"


def _request_detail(request: HttpRequest) -> dict[str, str]:
    return {"ip": client_ip(request), "method": request.method or "", "path": request.path[:200]}


class AuditMiddleware:
    """Makes the request's user the actor of events written by signals, and records denied requests."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with acting(request):
            response = self.get_response(request)
            if response.status_code == 403:
                self._denied(request)
            elif response.status_code == 401 and request.path.startswith(API_PREFIX):
                self._unauthorized(request)
        return response

    def _denied(self, request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        api = request.path.startswith(API_PREFIX)
        audit_record(
            actor=user if getattr(user, "is_authenticated", False) else "anonymous",
            action="api.forbidden" if api else "page.forbidden",
            object_type="request",
            object_repr=f"{request.method} {request.path}"[:255],
            outcome=AuditEvent.Outcome.DENIED,
            detail=_request_detail(request),
        )

    def _unauthorized(self, request: HttpRequest) -> None:
        detail = _request_detail(request)
        key = f"audit:401:{detail['ip']}:{detail['method']}:{detail['path']}"
        if not cache.add(key, 1, AUDIT_UNAUTHORIZED_WINDOW):
            return
        header = request.META.get("HTTP_AUTHORIZATION", "")
        detail["credentials"] = "refused" if header else "none"
        audit_record(
            actor="anonymous",
            action="api.unauthorized",
            object_type="request",
            object_repr=f"{request.method} {request.path}"[:255],
            outcome=AuditEvent.Outcome.DENIED,
            detail=detail,
        )
