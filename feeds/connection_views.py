"""Connection pages (admins only): list, create, edit, delete, check, and the browser consent ("Connect") of
providers that need it. Thin: fetch, validate a form, call one workflow of ``feeds.connections``, redirect.

The consent flow is kept in the session, keyed by its ``state``, until Entra sends the browser back to the fixed
callback URL."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import ListView

from core.forms import apply_validation_error
from core.permissions import RoleRequiredMixin
from core.roles import ADMIN
from feeds.connection_forms import ConnectionForm, ConnectionKindForm, connection_initial
from feeds.connections import (
    connection_check_request,
    connection_create,
    connection_delete,
    connection_update,
    consent_begin,
    consent_complete,
)
from feeds.models import Connection
from feeds.providers import REGISTRY
from feeds.providers.base import Provider

# request.session[CONSENT_SESSION_KEY] = {state: {"connection": id, "flow": msal flow}}
CONSENT_SESSION_KEY = "feeds.connection_consent"
MAX_PENDING_CONSENTS = 5
SECRET_COLUMNS = {"token": "credential", "client_secret": "client_secret"}


def _provider(connection: Connection) -> type[Provider] | None:
    return REGISTRY.get(connection.kind)


def _describe(provider: type[Provider] | None) -> dict[str, Any] | None:
    """What templates show of a provider (a class would be called by the template engine)."""
    if provider is None:
        return None
    return {"label": provider.label, "needs_browser_consent": provider.needs_browser_consent}


def callback_uri(request: HttpRequest) -> str:
    """The redirect URI an admin registers in the Entra application."""
    return request.build_absolute_uri(reverse("feeds:connection-callback"))


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, str(message))


class ConnectionListView(RoleRequiredMixin, ListView):
    required_role = ADMIN
    template_name = "feeds/connection_list.html"
    context_object_name = "connections"

    def get_queryset(self) -> Any:
        return Connection.objects.annotate(n_feeds=Count("feeds")).order_by("name")


class ConnectionDetailView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        connection = get_object_or_404(Connection, pk=pk)
        provider = _provider(connection)
        # Whether each secret is stored, never its value.
        secrets = [
            (
                spec.label,
                bool(getattr(connection, SECRET_COLUMNS.get(spec.name, spec.name), "")),
                connection.credential_fingerprint if SECRET_COLUMNS.get(spec.name) == "credential" else "",
            )
            for spec in (provider.fields if provider else ())
            if spec.secret
        ]
        plain = [
            (spec.label, getattr(connection, spec.name, ""))
            for spec in (provider.fields if provider else ())
            if not spec.secret
        ]
        ctx = {
            "connection": connection,
            "provider": _describe(provider),
            "secrets": secrets,
            "plain": plain,
            "consented": bool(connection.refresh_token),
            "feeds": connection.feeds.order_by("name"),  # type: ignore[attr-defined]
            "callback_uri": callback_uri(request),
        }
        return render(request, "feeds/connection_detail.html", ctx)


@method_decorator(sensitive_post_parameters("token", "client_secret"), name="dispatch")
class ConnectionCreateView(RoleRequiredMixin, View):
    """Choose the kind (``?kind=``), then the kind's form."""

    required_role = ADMIN

    def _render(self, request: HttpRequest, ctx: dict[str, Any], status: int = 200) -> HttpResponse:
        return render(request, "feeds/connection_form.html", {"creating": True, **ctx}, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        kind = request.GET.get("kind", "")
        provider = REGISTRY.get(kind)
        if provider is None:
            chooser = ConnectionKindForm(initial={"kind": kind} if kind else None)
            return self._render(request, {"chooser": chooser}, status=400 if kind else 200)
        form = ConnectionForm(provider=provider)
        return self._render(request, {"form": form, "kind": kind, "provider": _describe(provider)})

    def post(self, request: HttpRequest) -> HttpResponseBase:
        kind = request.POST.get("kind") or request.GET.get("kind") or ""
        provider = REGISTRY.get(kind)
        if provider is None:
            chooser = ConnectionKindForm(request.POST)
            chooser.is_valid()
            return self._render(request, {"chooser": chooser}, status=400)
        form = ConnectionForm(request.POST, provider=provider)
        if form.is_valid():
            try:
                connection = connection_create(actor=request.user, kind=kind, **form.service_values())
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                if provider.needs_browser_consent:
                    note = "Register the redirect URI below in the Entra application, then click Connect."
                else:
                    note = "Its secrets are stored encrypted; a check is running."
                messages.success(request, f"Connection {connection.name} saved. {note}")
                return redirect("feeds:connection-detail", pk=connection.pk)
        return self._render(request, {"form": form, "kind": kind, "provider": _describe(provider)}, status=400)


@method_decorator(sensitive_post_parameters("token", "client_secret"), name="dispatch")
class ConnectionEditView(RoleRequiredMixin, View):
    required_role = ADMIN

    def _render(
        self, request: HttpRequest, connection: Connection, form: ConnectionForm, status: int = 200
    ) -> HttpResponse:
        ctx = {"form": form, "connection": connection, "provider": _describe(form.provider), "kind": connection.kind}
        return render(request, "feeds/connection_form.html", ctx, status=status)

    def _get(self, pk: int) -> tuple[Connection, type[Provider]]:
        connection = get_object_or_404(Connection, pk=pk)
        provider = _provider(connection)
        if provider is None:
            raise ValidationError(f"Unknown kind {connection.kind!r}.")
        return connection, provider

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        try:
            connection, provider = self._get(pk)
        except ValidationError as exc:
            _errors(request, exc)
            return redirect("feeds:connections")
        form = ConnectionForm(provider=provider, editing=True, initial=connection_initial(connection, provider))
        return self._render(request, connection, form)

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        try:
            connection, provider = self._get(pk)
        except ValidationError as exc:
            _errors(request, exc)
            return redirect("feeds:connections")
        form = ConnectionForm(request.POST, provider=provider, editing=True)
        if form.is_valid():
            try:
                connection_update(actor=request.user, connection=connection, **form.service_values())
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Connection updated.")
                return redirect("feeds:connection-detail", pk=connection.pk)
        return self._render(request, connection, form, status=400)


class ConnectionDeleteView(RoleRequiredMixin, View):
    required_role = ADMIN

    def _render(self, request: HttpRequest, connection: Connection, status: int = 200) -> HttpResponse:
        feeds = connection.feeds.order_by("name")  # type: ignore[attr-defined]
        ctx = {"connection": connection, "feeds": feeds}
        return render(request, "feeds/connection_confirm_delete.html", ctx, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, get_object_or_404(Connection, pk=pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        connection = get_object_or_404(Connection, pk=pk)
        name = connection.name
        try:
            connection_delete(actor=request.user, connection=connection)
        except ValidationError as exc:
            _errors(request, exc)
            return self._render(request, connection, status=400)
        messages.success(request, f"Connection {name} deleted. Tokens it minted stay valid at the provider.")
        return redirect("feeds:connections")


class ConnectionCheckView(RoleRequiredMixin, View):
    """Queue a check of the connection; its status shows the outcome."""

    required_role = ADMIN

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        connection = get_object_or_404(Connection, pk=pk)
        connection_check_request(actor=request.user, connection=connection)
        messages.info(request, "Check queued: the status below changes when it ends (reload the page).")
        return redirect("feeds:connection-detail", pk=connection.pk)


class ConnectionConnectView(RoleRequiredMixin, View):
    """Start the browser consent: keep the flow in the session and send the browser to the provider."""

    required_role = ADMIN

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        connection = get_object_or_404(Connection, pk=pk)
        try:
            flow = consent_begin(connection, redirect_uri=callback_uri(request))
        except ValidationError as exc:
            _errors(request, exc)
            return redirect("feeds:connection-detail", pk=connection.pk)
        state, auth_uri = str(flow.get("state") or ""), str(flow.get("auth_uri") or "")
        if not state or not auth_uri.startswith("https://"):
            messages.error(request, "The provider gave no sign-in address to go to: nothing was started.")
            return redirect("feeds:connection-detail", pk=connection.pk)
        pending = dict(request.session.get(CONSENT_SESSION_KEY) or {})
        pending[state] = {"connection": connection.pk, "flow": flow}
        # Only the latest few: an abandoned sign-in must not grow the session for ever.
        request.session[CONSENT_SESSION_KEY] = dict(list(pending.items())[-MAX_PENDING_CONSENTS:])
        return HttpResponseRedirect(auth_uri)


class ConnectionCallbackView(RoleRequiredMixin, View):
    """Where the provider sends the browser back (the fixed redirect URI): redeem the answer for the flow its
    ``state`` names."""

    required_role = ADMIN

    def get(self, request: HttpRequest) -> HttpResponseBase:
        state = request.GET.get("state", "")
        pending = dict(request.session.get(CONSENT_SESSION_KEY) or {})
        entry = pending.pop(state, None) if state else None
        if entry is None:
            messages.error(
                request,
                "This sign-in answer matches no Connect started in this browser session (it was already used, "
                "expired, or started elsewhere). Nothing changed: open the connection and click Connect again.",
            )
            return redirect("feeds:connections")
        request.session[CONSENT_SESSION_KEY] = pending
        connection = Connection.objects.filter(pk=entry.get("connection")).first()
        if connection is None:
            messages.error(request, "The connection this sign-in was for no longer exists. Nothing changed.")
            return redirect("feeds:connections")
        try:
            connection = consent_complete(
                actor=request.user, connection=connection, flow=entry.get("flow") or {}, answer=request.GET.dict()
            )
        except ValidationError as exc:
            messages.error(request, "Connecting failed: " + " ".join(str(m) for m in exc.messages))
        else:
            who = f" as {connection.consented_by}" if connection.consented_by else ""
            messages.success(request, f"Connected{who}. Feedkeeper keeps the authorization encrypted.")
        return redirect("feeds:connection-detail", pk=connection.pk)
