"""Feed pages. Thin: fetch with a role check, validate a form, call one service, redirect."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, ListView

from core.forms import apply_validation_error
from core.permissions import RoleRequiredMixin
from core.request_types import HtmxHttpRequest
from core.roles import ADMIN, OPERATOR
from feeds import services
from feeds.forms import FeedCreateForm, FeedEditForm, TokenForm
from feeds.models import Feed, FeedCheck


class FeedListView(RoleRequiredMixin, ListView):
    template_name = "feeds/feed_list.html"
    context_object_name = "feeds"

    def get_queryset(self) -> Any:
        # The latest is the highest id (checks are numbered as requested): no sort through the join with the run.
        latest = FeedCheck.objects.filter(feed=OuterRef("pk")).order_by("-pk").values("pk")[:1]
        return Feed.objects.select_related("current_token").annotate(latest_check_id=Subquery(latest))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """Each feed's latest check as ``feed.latest_check``: two queries, whatever the number of feeds."""
        ctx = super().get_context_data(**kwargs)
        feeds = list(ctx["feeds"])
        checks = FeedCheck.objects.in_bulk([f.latest_check_id for f in feeds if f.latest_check_id])
        for feed in feeds:
            feed.latest_check = checks.get(feed.latest_check_id)
        ctx["feeds"] = feeds
        return ctx


class FeedDetailView(RoleRequiredMixin, DetailView):
    template_name = "feeds/feed_detail.html"
    context_object_name = "feed"

    def get_queryset(self) -> Any:
        return Feed.objects.select_related("current_token")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["versions"] = self.object.token_versions.select_related("created_by")[:20]
        ctx["checks"] = self.object.checks.all()[:10]
        ctx["dependents"] = services.feed_dependents(self.object)
        return ctx


class FeedCreateView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "feeds/feed_form.html", {"form": FeedCreateForm(), "creating": True})

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = FeedCreateForm(request.POST)
        if form.is_valid():
            try:
                feed = services.feed_create(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"Feed {feed.name} saved. Its token is stored encrypted; a check is running.")
                return redirect("feeds:detail", pk=feed.pk)
        return render(request, "feeds/feed_form.html", {"form": form, "creating": True}, status=400)


class FeedEditView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        feed = get_object_or_404(Feed, pk=pk)
        initial = {f: getattr(feed, f) for f in services.EDITABLE_FIELDS}
        return render(request, "feeds/feed_form.html", {"form": FeedEditForm(initial=initial), "feed": feed})

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        feed = get_object_or_404(Feed, pk=pk)
        form = FeedEditForm(request.POST, feed=feed)
        if form.is_valid():
            values = dict(form.cleaned_data)
            token = values.pop("token", "")
            try:
                with transaction.atomic():
                    feed = services.feed_update(actor=request.user, feed=feed, token_reentered=bool(token), **values)
                    if token:
                        services.feed_set_token(actor=request.user, feed=feed, token=token)
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Feed updated.")
                return redirect("feeds:detail", pk=feed.pk)
        return render(request, "feeds/feed_form.html", {"form": form, "feed": feed}, status=400)


class FeedTokenView(RoleRequiredMixin, View):
    """Replace the feed's token (manual rotation)."""

    required_role = ADMIN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        feed = get_object_or_404(Feed, pk=pk)
        return render(request, "feeds/token_form.html", {"form": TokenForm(), "feed": feed})

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        feed = get_object_or_404(Feed, pk=pk)
        form = TokenForm(request.POST)
        if form.is_valid():
            try:
                version = services.feed_set_token(
                    actor=request.user,
                    feed=feed,
                    token=form.cleaned_data["token"],
                    expires_at=form.cleaned_data["token_expires_at"],
                )
            except ValidationError as exc:
                apply_validation_error(form, exc, rename={"token_expires_at": "token_expires_at"})
            else:
                messages.success(request, f"Token replaced (fingerprint {version.fingerprint}). A check is running.")
                return redirect("feeds:detail", pk=feed.pk)
        return render(request, "feeds/token_form.html", {"form": form, "feed": feed}, status=400)


class FeedDeleteView(RoleRequiredMixin, View):
    required_role = ADMIN

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        feed = get_object_or_404(Feed, pk=pk)
        return render(
            request, "feeds/feed_confirm_delete.html", {"feed": feed, "dependents": services.feed_dependents(feed)}
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        feed = get_object_or_404(Feed, pk=pk)
        if request.POST.get("confirm_name", "").strip() != feed.name:
            messages.error(request, "Type the feed's name to confirm the deletion.")
            return render(
                request,
                "feeds/feed_confirm_delete.html",
                {"feed": feed, "dependents": services.feed_dependents(feed)},
                status=400,
            )
        name = feed.name
        services.feed_delete(actor=request.user, feed=feed)
        messages.success(request, f"Feed {name} deleted.")
        return redirect("feeds:list")


class FeedCheckView(RoleRequiredMixin, View):
    """Start a credential check (POST); the page polls the check row with htmx."""

    required_role = OPERATOR

    def post(self, request: HtmxHttpRequest, pk: int) -> HttpResponseBase:
        feed = get_object_or_404(Feed, pk=pk)
        check = services.feed_check_request(actor=request.user, feed=feed)
        if request.htmx:
            return render(request, "feeds/feed_detail.html#check-row", {"check": check, "feed": feed})
        messages.info(request, "Check started.")
        return redirect("feeds:detail", pk=feed.pk)


class CheckRowView(RoleRequiredMixin, View):
    """One check's row, for htmx polling until it ends."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        check = get_object_or_404(FeedCheck.objects.select_related("feed"), pk=pk)
        return render(request, "feeds/feed_detail.html#check-row", {"check": check, "feed": check.feed})
