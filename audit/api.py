"""`GET /api/v1/audit/`: read-only, newest first, filters action, actor, object_type, object_id, since, until."""

from rest_framework import mixins, serializers, viewsets

from audit.filters import AuditEventFilter
from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "action", "object_type", "object_id", "object_repr", "outcome", "detail"]
        read_only_fields = fields


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The audit history, newest first. A filter value that is not valid answers 400 naming the filter."""

    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.all()
    filterset_class = AuditEventFilter
