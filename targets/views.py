"""Target, delivery and push pages. Thin: fetch with a role check, validate a form, call one service, redirect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import DetailView, ListView

from core.forms import apply_validation_error
from core.permissions import RoleRequiredMixin
from core.request_types import HtmxHttpRequest
from core.roles import ADMIN, OPERATOR
from core.views import FilteredListView
from targets import checks, services
from targets.filters import DeliveryFilter
from targets.forms import DeliveryForm, PushForm, TargetForm, delivery_initial, target_initial
from targets.models import Delivery, Push, Target, TargetCheck
from targets.pushing import pushes_request
from targets.queries import with_delivery_counts, with_open_push


def _next_url(request: HttpRequest, candidate: str, default: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


# --- targets --------------------------------------------------------------------------------------------------


class TargetListView(RoleRequiredMixin, ListView):
    template_name = "targets/target_list.html"
    context_object_name = "targets"
    paginate_by = 50

    def get_queryset(self) -> Any:
        return with_delivery_counts(Target.objects.order_by("name", "id"))


class TargetDetailView(RoleRequiredMixin, DetailView):
    template_name = "targets/target_detail.html"
    context_object_name = "target"
    queryset = Target.objects.all()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        target = self.object
        ctx["check"] = target.checks.first()
        ctx["deliveries"] = list(with_open_push(target.deliveries.select_related("feed", "target")))
        ctx["pushes"] = target.pushes.select_related("delivery__feed")[:15]
        ctx["any_clusters"] = any(d.may_restart for d in ctx["deliveries"])
        return ctx


class TargetCreateView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "targets/target_form.html", {"form": TargetForm(), "creating": True})

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = TargetForm(request.POST)
        if form.is_valid():
            try:
                target = services.target_create(actor=request.user, **form.service_values())
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(
                    request,
                    f"Target {target.name} saved. Its credential is stored encrypted; a health check is running.",
                )
                return redirect("targets:detail", pk=target.pk)
        return render(request, "targets/target_form.html", {"form": form, "creating": True}, status=400)


class TargetEditView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        target = get_object_or_404(Target, pk=pk)
        form = TargetForm(initial=target_initial(target), target=target)
        return render(request, "targets/target_form.html", {"form": form, "target": target})

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        target = get_object_or_404(Target, pk=pk)
        form = TargetForm(request.POST, target=target)
        if form.is_valid():
            try:
                services.target_update(actor=request.user, target=target, **form.service_values())
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Target updated.")
                return redirect("targets:detail", pk=target.pk)
        return render(request, "targets/target_form.html", {"form": form, "target": target}, status=400)


class TargetDeleteView(RoleRequiredMixin, View):
    required_role = ADMIN

    def _render(self, request: HttpRequest, target: Target, status: int = 200) -> HttpResponse:
        deliveries = target.deliveries.select_related("feed")
        return render(
            request, "targets/target_confirm_delete.html", {"target": target, "deliveries": deliveries}, status=status
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, get_object_or_404(Target, pk=pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        target = get_object_or_404(Target, pk=pk)
        if request.POST.get("confirm_name", "").strip() != target.name:
            messages.error(request, "Type the target's name to confirm the deletion.")
            return self._render(request, target, status=400)
        name = target.name
        services.target_delete(actor=request.user, target=target)
        messages.success(request, f"Target {name} deleted. Nothing was removed from the platform.")
        return redirect("targets:list")


class TargetCheckView(RoleRequiredMixin, View):
    """Start the target's health checks (POST); the page polls the health section with htmx."""

    required_role = OPERATOR

    def post(self, request: HtmxHttpRequest, pk: int) -> HttpResponseBase:
        target = get_object_or_404(Target, pk=pk)
        check = checks.target_check_request(actor=request.user, target=target)
        if request.htmx:
            return render(request, "targets/target_detail.html#health", {"check": check, "target": target})
        messages.info(request, "Health check started.")
        return redirect("targets:detail", pk=target.pk)


class TargetCheckStatusView(RoleRequiredMixin, View):
    """The health section for one check, for htmx polling until the check ends."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        check = get_object_or_404(TargetCheck.objects.select_related("target"), pk=pk)
        return render(request, "targets/target_detail.html#health", {"check": check, "target": check.target})


class TargetPushAllView(RoleRequiredMixin, View):
    """Push every delivery of a target now."""

    required_role = OPERATOR

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        target = get_object_or_404(Target, pk=pk)
        form = PushForm(request.POST)
        form.is_valid()
        consent = bool(form.cleaned_data.get("restart_consent"))
        pushes = pushes_request(deliveries=target.deliveries.all(), actor=request.user, restart_consent=consent)
        messages.info(request, f"{len(pushes)} push{'' if len(pushes) == 1 else 'es'} requested.")
        return redirect("targets:detail", pk=target.pk)


# --- deliveries -----------------------------------------------------------------------------------------------


class DeliveryListView(RoleRequiredMixin, FilteredListView):
    template_name = "targets/delivery_list.html"
    context_object_name = "deliveries"
    paginate_by = 50
    filterset_class = DeliveryFilter

    def base_queryset(self) -> Any:
        return with_open_push(Delivery.objects.select_related("feed", "target"))


class DeliveryDetailView(RoleRequiredMixin, DetailView):
    """The delivery and its pushes; an htmx request gets the status part only (polled while a push is open)."""

    template_name = "targets/delivery_detail.html"
    context_object_name = "delivery"
    queryset = with_open_push(Delivery.objects.select_related("feed", "target"))

    def get_template_names(self) -> list[str]:
        if getattr(self.request, "htmx", False):
            return ["targets/delivery_detail.html#status"]
        return [self.template_name]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["pushes"] = self.object.pushes.all()[:30]
        return ctx


class DeliveryCreateView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        target = get_object_or_404(Target, pk=pk)
        form = DeliveryForm(target=target, initial={"feed": request.GET.get("feed")})
        return render(request, "targets/delivery_form.html", {"form": form, "target": target, "creating": True})

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        target = get_object_or_404(Target, pk=pk)
        form = DeliveryForm(request.POST, target=target)
        if form.is_valid():
            try:
                delivery = services.delivery_create(
                    actor=request.user, feed=form.cleaned_data["feed"], target=target, **form.service_values()
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"Delivery to {delivery.location} saved; the first push is running.")
                return redirect("targets:delivery-detail", pk=delivery.pk)
        ctx = {"form": form, "target": target, "creating": True}
        return render(request, "targets/delivery_form.html", ctx, status=400)


class DeliveryEditView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        delivery = get_object_or_404(Delivery.objects.select_related("feed", "target"), pk=pk)
        form = DeliveryForm(target=delivery.target, editing=True, initial=delivery_initial(delivery))
        return render(
            request, "targets/delivery_form.html", {"form": form, "target": delivery.target, "delivery": delivery}
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        delivery = get_object_or_404(Delivery.objects.select_related("feed", "target"), pk=pk)
        form = DeliveryForm(request.POST, target=delivery.target, editing=True)
        if form.is_valid():
            try:
                services.delivery_update(actor=request.user, delivery=delivery, **form.service_values())
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Delivery updated; it is pushed again if anything changed.")
                return redirect("targets:delivery-detail", pk=delivery.pk)
        ctx = {"form": form, "target": delivery.target, "delivery": delivery}
        return render(request, "targets/delivery_form.html", ctx, status=400)


class DeliveryDeleteView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        delivery = get_object_or_404(Delivery.objects.select_related("feed", "target"), pk=pk)
        return render(request, "targets/delivery_confirm_delete.html", {"delivery": delivery})

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        delivery = get_object_or_404(Delivery.objects.select_related("feed", "target"), pk=pk)
        target_pk = delivery.target_id
        services.delivery_delete(actor=request.user, delivery=delivery)
        messages.success(request, "Delivery deleted. What was pushed stays in place on the platform.")
        return redirect("targets:detail", pk=target_pk)


class DeliveryPushView(RoleRequiredMixin, View):
    """Push one delivery now (also the retry of a failed one)."""

    required_role = OPERATOR

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        delivery = get_object_or_404(Delivery.objects.select_related("feed", "target"), pk=pk)
        form = PushForm(request.POST)
        form.is_valid()
        consent = bool(form.cleaned_data.get("restart_consent"))
        push = services.delivery_push(actor=request.user, delivery=delivery, restart_consent=consent)
        note = ""
        if delivery.may_restart:
            note = (
                " Running clusters are restarted to wire them."
                if push.restart_consent
                else " Running clusters are wired on their next restart."
            )
        messages.info(request, f"Push of {delivery.feed} to {delivery.location} requested.{note}")
        default = redirect("targets:delivery-detail", pk=delivery.pk).url
        return redirect(_next_url(request, form.cleaned_data.get("next", ""), default))


class DeliveryRowView(RoleRequiredMixin, View):
    """One delivery's row (deliveries list, target page), for htmx polling while a push of it is open."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        delivery = get_object_or_404(with_open_push(Delivery.objects.select_related("feed", "target")), pk=pk)
        ctx = {
            "delivery": delivery,
            "show_target": request.GET.get("show_target") == "1",
            "next": request.GET.get("next", ""),
        }
        return render(request, "targets/_delivery_row.html", ctx)


class PushRowView(RoleRequiredMixin, View):
    """One push's row, for htmx polling until it ends."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        push = get_object_or_404(Push.objects.select_related("delivery__feed"), pk=pk)
        return render(
            request, "targets/_push_row.html", {"push": push, "show_delivery": request.GET.get("show_delivery") == "1"}
        )
