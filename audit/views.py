"""The audit history page (newest first, filtered by the shared filter set, keyset-paginated, with the chain's
state) and one event's page (its redacted before/after)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views import View

from audit.filters import AuditEventFilter, distinct_values
from audit.models import AuditEvent, AuditVerification
from audit.pagination import BadCursor, estimated_count, keyset_page
from core.permissions import RoleRequiredMixin

PAGE_SIZE = 50


class AuditListView(RoleRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        filters = AuditEventFilter(request.GET, queryset=AuditEvent.objects.all())
        errors: list[str] = []
        events: list[AuditEvent] = []
        next_cursor = previous_cursor = None
        count, exact = 0, True
        if not filters.is_valid():
            errors = [f"{name}: {message}" for name, messages in filters.errors.items() for message in messages]
        else:
            try:
                page = keyset_page(filters.qs, request.GET.get("cursor"), PAGE_SIZE)
            except BadCursor as exc:
                errors = [f"cursor: {exc}"]
            else:
                events, next_cursor, previous_cursor = page.events, page.next_cursor, page.previous_cursor
                count, exact = estimated_count(filters.qs, filtered=filters.is_filtered)
        query = request.GET.copy()
        query.pop("cursor", None)
        context = {
            "events": events,
            "filter_errors": errors,
            "form": filters.form,
            "values": {name: request.GET.get(name, "") for name in filters.filters},
            "actions": distinct_values("action"),
            "object_types": filters.filters["object_type"].field.choices,
            "outcomes": AuditEvent.Outcome.choices,
            "query": query.urlencode(),
            "next_cursor": next_cursor,
            "previous_cursor": previous_cursor,
            "count": count,
            "count_exact": exact,
            "verification": AuditVerification.objects.filter(pk=1).first(),
        }
        return render(request, "audit/event_list.html", context, status=400 if errors else 200)


class AuditDetailView(RoleRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        event = get_object_or_404(AuditEvent, pk=pk)
        return render(request, "audit/event_detail.html", {"event": event})
