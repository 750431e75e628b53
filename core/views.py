"""Overview, health, and the user's own API tokens."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from audit.models import AuditEvent
from audit.services import audit_record
from core.health import broker_status, database_status
from core.models import ApiToken
from core.permissions import RoleRequiredMixin
from core.request_types import AuthenticatedHttpRequest
from feeds.models import ExpiryStatus, Feed


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """``200 {"database": "ok", "broker": "ok"}``, or ``503`` naming what is down. No auth."""
    body = {"database": database_status(), "broker": broker_status()}
    return JsonResponse(body, status=200 if all(v == "ok" for v in body.values()) else 503)


class OverviewView(RoleRequiredMixin, TemplateView):
    template_name = "core/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        feeds = list(Feed.objects.select_related("current_token"))
        ctx["feeds"] = feeds
        ctx["attention"] = [f for f in feeds if f.expiry_status() in (ExpiryStatus.EXPIRED, ExpiryStatus.EXPIRING)]
        ctx["recent"] = AuditEvent.objects.all()[:10]
        return ctx


class ApiTokenView(RoleRequiredMixin, View):
    """List, issue and revoke the signed-in user's API tokens. A new token is shown once."""

    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        return self._render(request)

    def post(self, request: AuthenticatedHttpRequest) -> HttpResponseBase:
        name = request.POST.get("name", "").strip()
        if not name or len(name) > 100:
            messages.error(request, "Give the token a name of at most 100 characters.")
            return self._render(request, status=400)
        token, raw = ApiToken.issue(user=request.user, name=name)
        audit_record(
            actor=request.user,
            action="api_token.issue",
            obj=token,
            object_type="api_token",
            detail={"prefix": token.prefix},
            secrets=[raw],
        )
        return self._render(request, new_token=raw, status=201)

    def _render(self, request: AuthenticatedHttpRequest, new_token: str = "", status: int = 200) -> HttpResponse:
        tokens = ApiToken.objects.filter(user=request.user)
        response = render(request, "core/api_tokens.html", {"tokens": tokens, "new_token": new_token}, status=status)
        response["Cache-Control"] = "no-store"
        return response


class ApiTokenRevokeView(RoleRequiredMixin, View):
    def post(self, request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
        token = get_object_or_404(ApiToken, pk=pk, user=request.user)
        if token.revoked_at is None:
            ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
            audit_record(
                actor=request.user,
                action="api_token.revoke",
                obj=token,
                object_type="api_token",
                detail={"prefix": token.prefix},
            )
            messages.success(request, f"Token {token.name} revoked.")
        return redirect("api-tokens")
