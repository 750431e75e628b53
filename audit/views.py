"""The audit history page: newest first, filterable, paginated."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.generic import ListView

from audit.filters import AuditEventFilter
from audit.models import AuditEvent
from core.permissions import RoleRequiredMixin


class AuditListView(RoleRequiredMixin, ListView):
    template_name = "audit/event_list.html"
    context_object_name = "events"
    paginate_by = 50
    filter_errors: list[str] = []

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        if self.filter_errors:
            response.status_code = 400
        return response  # type: ignore[no-any-return]

    def get_queryset(self) -> Any:
        filters = AuditEventFilter(self.request.GET, queryset=AuditEvent.objects.select_related("actor"))
        if not filters.is_valid():
            self.filter_errors = [message for errors in filters.errors.values() for message in errors]
            return AuditEvent.objects.none()
        return filters.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["filter_errors"] = self.filter_errors
        ctx["filters"] = {k: self.request.GET.get(k, "") for k in ("action", "actor", "object_type", "object_id")}
        ctx["actions"] = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx["query"] = query.urlencode()
        return ctx
