"""Health: whether the database and the broker answer; the filtered list view the apps' list pages share. The
pages live in the apps above core."""

from typing import Any

import django_filters
from django.contrib.auth.decorators import login_not_required
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.generic import ListView

from core.health import broker_status, database_status


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """``200 {"database": "ok", "broker": "ok"}``, or ``503`` naming what is down. No auth."""
    body = {"database": database_status(), "broker": broker_status()}
    return JsonResponse(body, status=200 if all(v == "ok" for v in body.values()) else 503)


class FilteredListView(ListView):  # type: ignore[type-arg]
    """A list page filtered by a django-filter FilterSet (``filterset_class``) over ``base_queryset()``. A filter
    value that is not valid answers 400 and lists everything (the page says which value it refused); the bound
    form is ``filters`` in the context, and ``filter_rows`` the rows chosen by id (label, row), which the page names
    next to their id fields."""

    filterset_class: type[django_filters.FilterSet]

    def base_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.filterset = self.filterset_class(request.GET or None, queryset=self.base_queryset())
        response = super().get(request, *args, **kwargs)
        if self.filterset.is_bound and not self.filterset.is_valid():
            response.status_code = 400
        return response

    def get_queryset(self) -> Any:
        if self.filterset.is_bound and not self.filterset.is_valid():
            return self.filterset.queryset
        return self.filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["filters"] = self.filterset.form
        valid = self.filterset.is_bound and self.filterset.is_valid()
        chosen = self.filterset.form.cleaned_data.items() if valid else ()
        ctx["filter_rows"] = [
            (self.filterset.form[name].label, value) for name, value in chosen if isinstance(value, Model)
        ]
        return ctx
