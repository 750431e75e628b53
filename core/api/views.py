"""`/api/v1/checks/{id}/`: one id space for feed and target checks (see :class:`core.models.CheckRun`)."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.defaults import page_not_found
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.models import CheckRun

# kind -> (model, serializer), filled in by the apps that own each kind of check.
CHECK_KINDS: dict[str, tuple[Any, Any]] = {}


def register_check_kind(kind: str, model: Any, serializer: Any) -> None:
    CHECK_KINDS[kind] = (model, serializer)


class CheckDetailView(APIView):
    """A feed check (`status` ok/unauthorized/forbidden/not_found/unreachable/error, `http_status`, `detail`) or
    a target check (`status` ok/warning/failing, `results`). While in progress `status` is pending or running."""

    @extend_schema(
        responses=inline_serializer(
            "CheckRecord",
            {
                "id": serializers.IntegerField(),
                "kind": serializers.CharField(),
                "status": serializers.CharField(),
                "detail": serializers.CharField(),
                "http_status": serializers.IntegerField(required=False, allow_null=True),
                "results": serializers.ListField(child=serializers.DictField(), required=False),
                "created_at": serializers.DateTimeField(),
                "started_at": serializers.DateTimeField(allow_null=True),
                "finished_at": serializers.DateTimeField(allow_null=True),
            },
        )
    )
    def get(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(CheckRun, pk=pk)
        model, serializer = CHECK_KINDS[run.kind]
        return Response(serializer(model.objects.get(pk=run.pk)).data)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: under ``/api/`` a URL that matches no route (``/api/v1/feeds/-1/``) answers JSON like every
    other API error (``{"detail": "Not found."}``, as documented); elsewhere Django's 404 page."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception or Http404())
