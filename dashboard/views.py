"""The overview and the signed-in user's API tokens: the pages that read across feeds, targets and the audit
history."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularSwaggerSplitView

from audit.models import AuditEvent
from core import crypto
from core.models import ApiToken
from core.permissions import RoleRequiredMixin
from core.request_types import AuthenticatedHttpRequest
from core.roles import ADMIN, has_role
from dashboard import overview, services
from dashboard.context_processors import set_nav_counts
from dashboard.expiry import credentials_by_expiry

# The soonest expiries the overview lists (all of them count in "needs attention"); at least the attention list's
# PER_REASON, whose expiring credentials it takes from them.
EXPIRY_ROWS = 20
assert EXPIRY_ROWS >= overview.PER_REASON


class OverviewView(RoleRequiredMixin, TemplateView):
    """What needs attention (one list, each entry with its reason and action), target health, failing deliveries,
    running rotations, credentials by expiry and the latest activity. An htmx request gets the live part only: the
    page polls it every 2 s while a push, check or rotation runs, and every 30 s otherwise."""

    template_name = "dashboard/overview.html"

    def get_template_names(self) -> list[str]:
        if getattr(self.request, "htmx", False):
            return ["dashboard/overview.html#live"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        counted = overview.overview_counts()
        # Every feed has a token and every target a credential: the expiry list has a row for each.
        ctx["n_feeds"], ctx["n_targets"] = counted["feeds"], counted["targets"]
        expiry = credentials_by_expiry(limit=EXPIRY_ROWS)
        ctx["expiry"], ctx["expiry_more"] = expiry, max(0, counted["feeds"] + counted["targets"] - len(expiry))
        ctx["attention"] = overview.attention(expiry, counted)
        ctx["matrix"] = overview.health_matrix(n_targets=counted["targets"])
        ctx["failing"] = overview.failing_deliveries()
        ctx["rotations"] = overview.running_rotations()
        ctx["in_flight"] = overview.in_flight(counted)
        ctx["open_findings"] = ctx["attention"].open_findings
        set_nav_counts(self.request, ctx["attention"].counts())
        ctx["recent"] = AuditEvent.objects.all()[:10]
        return ctx


class ApiTokenView(RoleRequiredMixin, View):
    """List, issue and revoke the signed-in user's API tokens (with an expiry and, optionally, read-only). A new
    token is shown once: the POST keeps it (encrypted) in the session and redirects, the next GET shows it and
    forgets it, so a reload neither re-posts nor shows it again. Admins also see every user's active tokens and may
    revoke them."""

    SESSION_KEY = "new_api_token"

    def get(self, request: AuthenticatedHttpRequest) -> HttpResponse:
        sealed = request.session.pop(self.SESSION_KEY, "")
        return self._render(request, new_token=crypto.decrypt(sealed) if sealed else "")

    def post(self, request: AuthenticatedHttpRequest) -> HttpResponseBase:
        try:
            _, raw = services.api_token_issue(
                actor=request.user,
                user=request.user,
                name=request.POST.get("name", ""),
                expires_in_days=request.POST.get("expires_in_days"),
                scope=request.POST.get("scope", ApiToken.Scope.FULL),
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return self._render(request, status=400)
        request.session[self.SESSION_KEY] = crypto.encrypt(raw)
        messages.success(request, "Token issued.")
        return redirect("api-tokens")

    def _render(self, request: AuthenticatedHttpRequest, new_token: str = "", status: int = 200) -> HttpResponse:
        tokens = ApiToken.objects.filter(user=request.user)
        context: dict[str, Any] = {
            "tokens": tokens,
            "new_token": new_token,
            "lifetimes": sorted({7, 30, 90, 365, settings.API_TOKEN_DEFAULT_DAYS} - {0}),
            "default_days": settings.API_TOKEN_DEFAULT_DAYS,
            "max_days": settings.API_TOKEN_MAX_DAYS,
            "now": timezone.now(),
        }
        if has_role(request.user, ADMIN):
            context["all_tokens"] = ApiToken.objects.active().exclude(user=request.user).select_related("user")
        response = render(request, "dashboard/api_tokens.html", context, status=status)
        response["Cache-Control"] = "no-store"
        return response


class ApiTokenRevokeView(RoleRequiredMixin, View):
    """Revoke one of the signed-in user's own tokens; an admin may revoke anyone's (for others, another user's
    token is a 404)."""

    def post(self, request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
        if has_role(request.user, ADMIN):
            token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
        else:
            token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk, user=request.user)
        if services.api_token_revoke(actor=request.user, token=token):
            messages.success(request, f"Token {token.name} revoked.")
        return redirect("api-tokens")


class ApiDocsView(RoleRequiredMixin, SpectacularSwaggerSplitView):
    """The API's browsable documentation (Swagger UI from drf-spectacular-sidecar, its start script served by this
    view under ``?script``, so the page needs nothing but 'self' under the Content-Security-Policy). Needs a login
    and a role, like the schema it reads."""

    template_name = "dashboard/api_docs.html"
    url_name = "schema"

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        view = super().as_view(**initkwargs)
        view.login_required = True  # type: ignore[attr-defined]  # DRF exempts its views from the login middleware
        return view
