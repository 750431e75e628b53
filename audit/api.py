"""`GET /api/v1/audit/`: read-only, newest first, filters action, actor, object_type, object_id, since, until."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from audit.filters import filter_events
from audit.models import AuditEvent
from core.api.errors import as_drf_error


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "action", "object_type", "object_id", "object_repr", "outcome", "detail"]
        read_only_fields = fields


_FILTERS = [
    OpenApiParameter(name, OpenApiTypes.DATETIME if name in ("since", "until") else OpenApiTypes.STR)
    for name in ("action", "actor", "object_type", "object_id", "since", "until")
]


@extend_schema_view(list=extend_schema(parameters=_FILTERS))
class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditEventSerializer

    def get_queryset(self) -> Any:
        try:
            return filter_events(AuditEvent.objects.all(), self.request.query_params)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
