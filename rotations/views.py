"""Rotation pages: the list, one rotation's progress (polled with htmx while it runs), retry and roll back, and
on a feed: rotate now, token leaked (emergency) and the rotation settings. Thin: fetch with a role check,
validate a form, call one service, redirect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from core.forms import apply_validation_error
from core.permissions import RoleRequiredMixin
from core.request_types import HtmxHttpRequest
from core.roles import ADMIN, OPERATOR
from core.views import FilteredListView
from feeds.models import Feed
from feeds.services import feed_update
from rotations import services
from rotations.forms import LeakedForm, RotateForm, RotationListFilter, RotationSettingsForm, settings_initial
from rotations.models import Phase, Rotation, RotationStep, Status, StepStatus

_FINAL_STEP = (StepStatus.DONE, StepStatus.SKIPPED, StepStatus.FAILED, StepStatus.MANUAL)


def _messages_of(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


# --- rotations ------------------------------------------------------------------------------------------------


class RotationListView(RoleRequiredMixin, FilteredListView):
    template_name = "rotations/rotation_list.html"
    context_object_name = "rotations"
    paginate_by = 50
    filterset_class = RotationListFilter

    def base_queryset(self) -> Any:
        return Rotation.objects.select_related("feed", "target").order_by("-created_at", "-id")


def progress_context(rotation: Rotation) -> dict[str, Any]:
    """What the progress partial shows: steps, per-delivery progress, whether to keep polling and which buttons
    apply."""
    from targets.models import Delivery

    steps = list(rotation.steps.all())
    revoke: RotationStep | None = next((s for s in steps if s.name == Phase.REVOKE), None)
    revoke_failed = revoke is not None and revoke.status == StepStatus.FAILED
    live = rotation.status == Status.RUNNING or (
        rotation.status == Status.COMPLETED
        and not rotation.revoke_done
        and not (revoke is not None and revoke.status in _FINAL_STEP)
    )
    recorded = rotation.deliveries or {}
    known = {
        d.pk: d for d in Delivery.objects.filter(pk__in=[int(k) for k in recorded]).select_related("target", "feed")
    }
    deliveries = [
        {
            "id": int(pk),
            "delivery": known.get(int(pk)),
            "status": (item or {}).get("status", ""),
            "fingerprint": (item or {}).get("fingerprint", ""),
        }
        for pk, item in sorted(recorded.items(), key=lambda kv: int(kv[0]))
    ]
    return {
        "rotation": rotation,
        "steps": steps,
        "deliveries": deliveries,
        "live": live,
        "can_retry": rotation.status == Status.FAILED or (rotation.status == Status.COMPLETED and revoke_failed),
        "can_roll_back": rotation.status == Status.FAILED and not rotation.is_credential,
        # The clusters that still run with the previous token can be restarted once the new one is pushed.
        "can_restart": not rotation.is_credential
        and rotation.status != Status.ROLLED_BACK
        and rotation.phase in services.RESTART_PHASES
        and revoke is not None
        and (rotation.emergency or "restart" in revoke.detail or "still run" in revoke.detail),
    }


class RotationDetailView(RoleRequiredMixin, View):
    """One rotation. An htmx request gets only the progress partial (polled every 2 s until the rotation is
    final)."""

    def get(self, request: HtmxHttpRequest, pk: int) -> HttpResponse:
        rotation = get_object_or_404(
            Rotation.objects.select_related("feed", "target", "new_token", "previous_token", "requested_by"), pk=pk
        )
        ctx = progress_context(rotation)
        if request.htmx:
            response = render(request, "rotations/rotation_detail.html#progress", ctx)
        else:
            response = render(request, "rotations/rotation_detail.html", ctx)
        patch_vary_headers(response, ("HX-Request",))
        return response


class RotationRetryView(RoleRequiredMixin, View):
    required_role = OPERATOR

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        rotation = get_object_or_404(Rotation, pk=pk)
        try:
            services.rotation_retry(actor=request.user, rotation=rotation)
        except ValidationError as exc:
            for message in _messages_of(exc):
                messages.error(request, message)
        else:
            messages.success(request, f"Rotation {rotation.pk} is taken up again.")
        return redirect("rotations:detail", pk=rotation.pk)


class RotationRollbackView(RoleRequiredMixin, View):
    required_role = OPERATOR

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        rotation = get_object_or_404(Rotation, pk=pk)
        try:
            services.rotation_rollback(actor=request.user, rotation=rotation)
        except ValidationError as exc:
            for message in _messages_of(exc):
                messages.error(request, message)
        else:
            messages.success(
                request, f"Rolling rotation {rotation.pk} back: the previous token is pushed everywhere again."
            )
        return redirect("rotations:detail", pk=rotation.pk)


class RotationRestartView(RoleRequiredMixin, View):
    """Restart what still runs with the previous token; the form carries the operator's consent."""

    required_role = OPERATOR

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        rotation = get_object_or_404(Rotation, pk=pk)
        if request.POST.get("consent") != "yes":
            messages.error(request, "Tick the box to consent: restarting interrupts what runs on those clusters.")
            return redirect("rotations:detail", pk=rotation.pk)
        try:
            services.rotation_restart_readers(actor=request.user, rotation=rotation)
        except ValidationError as exc:
            for message in _messages_of(exc):
                messages.error(request, message)
        else:
            messages.success(
                request,
                "Restarting the clusters that still run with the previous token; the audit history says how it went.",
            )
        return redirect("rotations:detail", pk=rotation.pk)


class TargetRotateView(RoleRequiredMixin, View):
    """Start a rotation of a target's own credential."""

    required_role = ADMIN

    def post(self, request: HttpRequest, target_pk: int) -> HttpResponseBase:
        from rotations.credential_services import credential_rotation_request
        from targets.models import Target

        target = get_object_or_404(Target, pk=target_pk)
        try:
            rotation = credential_rotation_request(actor=request.user, target=target)
        except ValidationError as exc:
            for message in _messages_of(exc):
                messages.error(request, message)
            return redirect("targets:detail", pk=target.pk)
        messages.success(request, f"Rotation {rotation.pk} of {target.name}'s credential started.")
        return redirect("rotations:detail", pk=rotation.pk)


# --- a feed's rotation ------------------------------------------------------------------------------------------


def _feed(pk: int) -> Feed:
    return get_object_or_404(Feed.objects.select_related("current_token", "rotation_connection"), pk=pk)


class _StartRotationView(RoleRequiredMixin, View):
    """Shows the dry-run plan and the form; POST starts the rotation and sends the browser to it."""

    required_role = OPERATOR
    template_name = ""
    form_class: type[RotateForm] = RotateForm
    emergency = False

    def _render(self, request: HttpRequest, feed: Feed, form: RotateForm, status: int = 200) -> HttpResponse:
        ctx = {"feed": feed, "form": form, "plan": services.rotation_plan(feed), "emergency": self.emergency}
        return render(request, self.template_name, ctx, status=status)

    def get(self, request: HttpRequest, feed_pk: int) -> HttpResponse:
        feed = _feed(feed_pk)
        return self._render(request, feed, self.form_class(feed=feed))

    def post(self, request: HttpRequest, feed_pk: int) -> HttpResponseBase:
        feed = _feed(feed_pk)
        form = self.form_class(request.POST, feed=feed)
        if form.is_valid():
            try:
                rotation = services.rotation_request(
                    actor=request.user, feed=feed, emergency=self.emergency, **form.service_values()
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, self.started_message(rotation))
                return redirect("rotations:detail", pk=rotation.pk)
        return self._render(request, feed, form, status=400)

    def started_message(self, rotation: Rotation) -> str:
        return f"Rotation {rotation.pk} started."


@method_decorator(sensitive_post_parameters("token"), name="dispatch")
class FeedRotateView(_StartRotationView):
    template_name = "rotations/rotate_form.html"


@method_decorator(sensitive_post_parameters("token"), name="dispatch")
class FeedLeakedView(_StartRotationView):
    template_name = "rotations/leaked_form.html"
    form_class = LeakedForm
    emergency = True

    def started_message(self, rotation: Rotation) -> str:
        return (
            f"Emergency rotation {rotation.pk} started: the leaked token is revoked as soon as the new one is "
            "verified everywhere."
        )


class FeedRotationSettingsView(RoleRequiredMixin, View):
    required_role = ADMIN

    def _render(self, request: HttpRequest, feed: Feed, form: RotationSettingsForm, status: int = 200) -> HttpResponse:
        return render(request, "rotations/settings_form.html", {"feed": feed, "form": form}, status=status)

    def get(self, request: HttpRequest, feed_pk: int) -> HttpResponse:
        feed = _feed(feed_pk)
        return self._render(request, feed, RotationSettingsForm(feed=feed, initial=settings_initial(feed)))

    def post(self, request: HttpRequest, feed_pk: int) -> HttpResponseBase:
        feed = _feed(feed_pk)
        form = RotationSettingsForm(request.POST, feed=feed)
        if form.is_valid():
            try:
                feed_update(actor=request.user, feed=feed, **form.service_values())
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Rotation settings saved.")
                return redirect("feeds:detail", pk=feed.pk)
        return self._render(request, feed, form, status=400)
