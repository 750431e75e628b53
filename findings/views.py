"""Findings pages: the list (filters shared with the API), one finding with what an admin can do with it (replace
with a managed delivery, ignore, this token leaked), and "Scan now" for a target (htmx polls the scan until it is
done). Thin: fetch with a role check, validate a form, call one service, redirect."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views import View

from core.forms import apply_validation_error
from core.permissions import RoleRequiredMixin
from core.request_types import HtmxHttpRequest
from core.roles import ADMIN, OPERATOR
from core.views import FilteredListView
from findings import services
from findings.filters import FindingFilter
from findings.forms import IgnoreForm, ReplaceForm
from findings.models import Finding, FindingStatus, ScanRun
from targets.models import Target


class FindingListView(RoleRequiredMixin, FilteredListView):
    template_name = "findings/finding_list.html"
    context_object_name = "findings"
    paginate_by = 50
    filterset_class = FindingFilter

    def base_queryset(self) -> Any:
        return Finding.objects.select_related("target", "feed").order_by("-last_seen", "-id")


def _finding(pk: int) -> Finding:
    return get_object_or_404(
        Finding.objects.select_related("target", "feed__rotation_connection", "replaced_by", "ignored_by"), pk=pk
    )


def _detail(
    request: HttpRequest,
    finding: Finding,
    *,
    ignore_form: IgnoreForm | None = None,
    replace_form: ReplaceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    replacement = services.replacement_for(finding)
    is_open = finding.status == FindingStatus.OPEN
    if replace_form is None and replacement is not None and is_open:
        replace_form = ReplaceForm(finding=finding, replacement=replacement)
    ctx = {
        "finding": finding,
        "replacement": replacement if is_open else None,
        "advice": "" if replacement is not None else services.manual_advice(finding),
        "replace_form": replace_form if is_open and finding.replaced_by_id is None else None,
        "plaintext_removable": services.plaintext_removable(finding),
        "ignore_form": (ignore_form or IgnoreForm()) if is_open else None,
        "same_token": Finding.objects.filter(fingerprint=finding.fingerprint)
        .exclude(pk=finding.pk)
        .select_related("target"),
    }
    return render(request, "findings/finding_detail.html", ctx, status=status)


class FindingDetailView(RoleRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return _detail(request, _finding(pk))


class FindingIgnoreView(RoleRequiredMixin, View):
    required_role = ADMIN

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        finding = _finding(pk)
        form = IgnoreForm(request.POST)
        if form.is_valid():
            try:
                services.finding_ignore(actor=request.user, finding=finding, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Finding ignored.")
                return redirect("findings:detail", pk=finding.pk)
        return _detail(request, finding, ignore_form=form, status=400)


class FindingReplaceView(RoleRequiredMixin, View):
    required_role = ADMIN

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        finding = _finding(pk)
        replacement = services.replacement_for(finding)
        if replacement is None or finding.status != FindingStatus.OPEN:
            messages.error(request, "Feedkeeper cannot replace this finding: " + services.manual_advice(finding))
            return _detail(request, finding, status=400)
        form = ReplaceForm(request.POST, finding=finding, replacement=replacement)
        if form.is_valid():
            data = form.cleaned_data
            try:
                delivery = services.finding_replace(
                    actor=request.user,
                    finding=finding,
                    feed=data["feed"],
                    scope=data.get("scope", ""),
                    key=data.get("key", ""),
                    restart_consent=bool(data.get("restart_consent")),
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"Replaced by a managed delivery: {replacement.removes}")
                return redirect("targets:delivery-detail", pk=delivery.pk)
        return _detail(request, finding, replace_form=form, status=400)


class FindingRemovePlaintextView(RoleRequiredMixin, View):
    """Second step of a two-step replacement: delete the plaintext variable (on the worker)."""

    required_role = ADMIN

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        finding = _finding(pk)
        try:
            services.finding_remove_plaintext_request(actor=request.user, finding=finding)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, "Deleting the variable; the finding is resolved once it is gone.")
        return redirect("findings:detail", pk=finding.pk)


class FindingLeakedView(RoleRequiredMixin, View):
    """Start an emergency rotation of the finding's feed (its rotation connection mints the new token)."""

    required_role = ADMIN

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        finding = _finding(pk)
        try:
            rotation = services.finding_leaked(actor=request.user, finding=finding)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("findings:detail", pk=finding.pk)
        messages.success(request, f"Emergency rotation {rotation.pk} of {finding.feed} started.")
        return redirect("rotations:detail", pk=rotation.pk)


class TargetScanView(RoleRequiredMixin, View):
    """ "Scan now" on a target's page: an htmx request gets the scan's status fragment (which polls itself)."""

    required_role = OPERATOR

    def post(self, request: HtmxHttpRequest, target_pk: int) -> HttpResponseBase:
        target = get_object_or_404(Target, pk=target_pk)
        scan = services.target_scan_request(actor=request.user, target=target)
        if request.htmx:
            return render(request, "findings/_scan_status.html", {"scan": scan, "target": target})
        messages.success(request, f"Scan {scan.pk} of {target.name} started.")
        return redirect("targets:detail", pk=target.pk)


class ScanStatusView(RoleRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        scan = get_object_or_404(ScanRun.objects.select_related("target"), pk=pk)
        response = render(request, "findings/_scan_status.html", {"scan": scan, "target": scan.target})
        patch_vary_headers(response, ("HX-Request",))
        return response
