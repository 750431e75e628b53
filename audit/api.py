"""`GET /api/v1/audit/`: read-only, newest first, keyset-paginated, filtered by the shared
:class:`~audit.filters.AuditEventFilter`; `export/` streams the filtered set as CSV; `verify/` checks the chain."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, renderers, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from audit.chain import audit_verify
from audit.export import csv_rows
from audit.filters import AuditEventFilter
from audit.models import AuditEvent
from audit.pagination import BadCursor, estimated_count, keyset_page


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "outcome",
            "detail",
            "hash",
            "prev_hash",
            "seq",
        ]
        read_only_fields = fields


class AuditKeysetPagination(BasePagination):
    """``{"count", "next", "previous", "results"}`` with keyset cursors (``?cursor=``): as fast on the ten
    thousandth page as on the first. ``count`` is exact up to 1,000 events, an estimate above."""

    page_size = 50
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        try:
            page = keyset_page(queryset, request.query_params.get(self.cursor_query_param), self.page_size)
        except BadCursor as exc:
            raise ValidationError({self.cursor_query_param: [str(exc)]}) from exc
        filtered = bool(getattr(view, "filtered", False))
        self.count, _ = estimated_count(queryset, filtered=filtered)
        self.page = page
        return page.events

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(remove_query_param(url, "page"), self.cursor_query_param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            OrderedDict(
                [
                    ("count", self.count),
                    ("next", self._link(self.page.next_cursor)),
                    ("previous", self._link(self.page.previous_cursor)),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer", "description": "Exact up to 1,000 events, an estimate above."},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The cursor of a page, from `next` or `previous`.",
                "schema": {"type": "string"},
            }
        ]


class CSVRenderer(renderers.BaseRenderer):
    media_type = "text/csv"
    format = "csv"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return renderers.JSONRenderer().render(data)


VerifyResult = inline_serializer(
    "AuditVerification",
    {
        "intact": serializers.BooleanField(),
        "events": serializers.IntegerField(),
        "first_broken": serializers.IntegerField(allow_null=True),
        "reason": serializers.CharField(),
        "checked_at": serializers.DateTimeField(),
    },
)


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The audit history, newest first. A filter value that is not valid answers 400 naming the filter."""

    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.all()
    filterset_class = AuditEventFilter
    pagination_class = AuditKeysetPagination
    filtered = False

    def filter_queryset(self, queryset: Any) -> Any:
        if self.action == "verify":
            return queryset
        filterset = AuditEventFilter(self.request.query_params, queryset=queryset, request=self.request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        self.filtered = filterset.is_filtered
        return filterset.qs

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The filtered events as CSV.")},
        parameters=[OpenApiParameter("cursor", exclude=True)],
    )
    @action(
        detail=False, methods=["get"], renderer_classes=[renderers.JSONRenderer, CSVRenderer], pagination_class=None
    )
    def export(self, request: Request) -> StreamingHttpResponse:
        """The filtered history as CSV, newest first, streamed (any size); cells that a spreadsheet would read as
        a formula are prefixed with ``'``."""
        events = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(csv_rows(events), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response

    @extend_schema(responses=VerifyResult, filters=False, parameters=[OpenApiParameter("cursor", exclude=True)])
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def verify(self, request: Request) -> Response:
        """Seal pending events and recompute the whole hash chain: ``intact``, the ``events`` verified and the
        ``first_broken`` event's id (null when intact, or when the missing events were the last ones)."""
        result = audit_verify()
        return Response({**result.as_dict(), "reason": result.reason, "checked_at": timezone.now()})
