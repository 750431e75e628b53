"""The overview and the signed-in user's API tokens: the pages that read across feeds, targets and the audit
history."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from audit.models import AuditEvent
from core.models import ApiToken
from core.permissions import RoleRequiredMixin
from core.request_types import AuthenticatedHttpRequest
from dashboard import services
from feeds.models import ExpiryStatus, Feed


class OverviewView(RoleRequiredMixin, TemplateView):
    """Every feed, those whose token has expired or expires soon, target health, and the latest activity."""

    template_name = "dashboard/overview.html"

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
        try:
            _, raw = services.api_token_issue(actor=request.user, user=request.user, name=request.POST.get("name", ""))
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return self._render(request, status=400)
        return self._render(request, new_token=raw, status=201)

    def _render(self, request: AuthenticatedHttpRequest, new_token: str = "", status: int = 200) -> HttpResponse:
        tokens = ApiToken.objects.filter(user=request.user)
        context = {"tokens": tokens, "new_token": new_token}
        response = render(request, "dashboard/api_tokens.html", context, status=status)
        response["Cache-Control"] = "no-store"
        return response


class ApiTokenRevokeView(RoleRequiredMixin, View):
    """Revoke one of the signed-in user's own tokens (another user's is a 404)."""

    def post(self, request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
        token = get_object_or_404(ApiToken, pk=pk, user=request.user)
        if services.api_token_revoke(actor=request.user, token=token):
            messages.success(request, f"Token {token.name} revoked.")
        return redirect("api-tokens")
