"""Notification pages: channels (admins), the notification history (viewers; retry for operators), and each user's
e-mail opt-in. Thin: fetch, validate a form, call one service, redirect."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from core.forms import apply_validation_error
from core.permissions import RoleRequiredMixin
from core.roles import ADMIN, OPERATOR, VIEWER
from notifications import services
from notifications.filters import NotificationFilter
from notifications.forms import ChannelForm, SubscriptionForm
from notifications.models import Channel, Notification, Subscription

PAGE_SIZE = 100


class ChannelListView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest) -> HttpResponse:
        channels = (
            Channel.objects.annotate(n_failed=Count("notifications", filter=Q(notifications__status="failed")))
            .prefetch_related("feeds", "targets")
            .order_by("name")
        )
        return render(request, "notifications/channel_list.html", {"channels": channels})


def _channel_values(form: ChannelForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "kind": data["kind"],
        "target": data.get("target") or "",
        "events": data.get("events") or [],
        "feeds": list(data.get("feeds") or []),
        "targets": list(data.get("targets") or []),
        "digest": bool(data.get("digest")),
    }


@method_decorator(sensitive_post_parameters("target"), name="dispatch")
class ChannelCreateView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "notifications/channel_form.html", {"form": ChannelForm(), "creating": True})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ChannelForm(request.POST)
        if form.is_valid():
            try:
                channel = services.channel_create(actor=request.user, **_channel_values(form))
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"Channel {channel.name} added.")
                return redirect("notifications:channels")
        return render(request, "notifications/channel_form.html", {"form": form, "creating": True}, status=400)


@method_decorator(sensitive_post_parameters("target"), name="dispatch")
class ChannelEditView(RoleRequiredMixin, View):
    required_role = ADMIN

    def _render(self, request: HttpRequest, channel: Channel, form: ChannelForm, status: int = 200) -> HttpResponse:
        return render(request, "notifications/channel_form.html", {"form": form, "channel": channel}, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        channel = get_object_or_404(Channel, pk=pk)
        initial = {
            "name": channel.name,
            "kind": channel.kind,
            "events": channel.events,
            "feeds": channel.feeds.all(),
            "targets": channel.targets.all(),
            "digest": channel.digest,
        }
        return self._render(request, channel, ChannelForm(initial=initial, editing=True))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        channel = get_object_or_404(Channel, pk=pk)
        form = ChannelForm(request.POST, editing=True)
        if form.is_valid():
            try:
                services.channel_update(actor=request.user, channel=channel, **_channel_values(form))
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"Channel {channel.name} saved.")
                return redirect("notifications:channels")
        return self._render(request, channel, form, status=400)


class ChannelDeleteView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        channel = get_object_or_404(Channel, pk=pk)
        return render(request, "notifications/channel_confirm_delete.html", {"channel": channel})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        channel = get_object_or_404(Channel, pk=pk)
        services.channel_delete(actor=request.user, channel=channel)
        messages.success(request, f"Channel {channel.name} deleted.")
        return redirect("notifications:channels")


class ChannelTestView(RoleRequiredMixin, View):
    required_role = ADMIN

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        channel = get_object_or_404(Channel, pk=pk)
        services.channel_test(actor=request.user, channel=channel)
        messages.success(request, f"A test message to {channel.name} is on its way; see the history for its outcome.")
        return redirect("notifications:channels")


class NotificationListView(RoleRequiredMixin, View):
    required_role = VIEWER

    def get(self, request: HttpRequest) -> HttpResponse:
        qs = Notification.objects.select_related("channel", "user").order_by("-created_at", "-id")
        filterset = NotificationFilter(request.GET, queryset=qs)
        if not filterset.is_valid():
            ctx = {"filter": filterset, "notifications": [], "errors": filterset.errors}
            return render(request, "notifications/notification_list.html", ctx, status=400)
        ctx = {"filter": filterset, "notifications": filterset.qs[:PAGE_SIZE]}
        return render(request, "notifications/notification_list.html", ctx)


class NotificationRetryView(RoleRequiredMixin, View):
    required_role = OPERATOR

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        notification = get_object_or_404(Notification, pk=pk)
        try:
            services.notification_retry(actor=request.user, notification=notification)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"Notification {notification.pk} will be sent again.")
        return redirect("notifications:history")


class SubscriptionView(RoleRequiredMixin, View):
    """The signed-in user's own e-mail opt-in (any role)."""

    required_role = VIEWER

    def _render(self, request: HttpRequest, form: SubscriptionForm, status: int = 200) -> HttpResponse:
        return render(request, "notifications/subscription.html", {"form": form}, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        sub = Subscription.objects.filter(user=cast(Any, request.user)).first()
        initial = {"events": sub.events, "feeds": sub.feeds.all(), "digest": sub.digest} if sub else {}
        return self._render(request, SubscriptionForm(initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SubscriptionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.subscription_save(
                    user=request.user, events=data["events"], feeds=data["feeds"], digest=data["digest"]
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Your e-mail notifications are saved.")
                return redirect("notifications:subscription")
        return self._render(request, form, status=400)
