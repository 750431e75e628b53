"""Notifications in the JSON API: channels (`/api/v1/notification-channels/`, admins only) and the notification
records (`/api/v1/notifications/`). Serializers shape data; services do the work."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import as_drf_error
from feeds.models import Feed
from notifications import services
from notifications.filters import ChannelFilter, NotificationFilter
from notifications.models import Channel, ChannelKind, Event, Notification
from targets.models import Target

_ID_RESPONSE = inline_serializer("NotificationQueued", fields={"id": serializers.IntegerField()})


class ChannelSerializer(serializers.ModelSerializer):
    """A channel; ``target`` (addresses or webhook URL) is write-only, ``fingerprint`` names it."""

    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    target = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=2000, style={"input_type": "password"}
    )
    events = serializers.MultipleChoiceField(choices=Event.choices, required=False)
    feeds = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Feed.objects.all())
    targets = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Target.objects.all())
    fingerprint = serializers.CharField(source="target_fingerprint", read_only=True)

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "target",
            "events",
            "feeds",
            "targets",
            "digest",
            "fingerprint",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}

    def to_representation(self, instance: Channel) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["events"] = [e for e in Event.values if e in instance.events]
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and not (attrs.get("target") or "").strip():
            raise serializers.ValidationError({"target": ["Enter the e-mail address(es) or the webhook URL."]})
        return attrs

    def _values(self, validated: dict[str, Any]) -> dict[str, Any]:
        if "events" in validated:
            validated["events"] = list(validated["events"])
        return validated

    def create(self, validated: dict[str, Any]) -> Channel:
        try:
            return services.channel_create(actor=self.context["request"].user, **self._values(validated))
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def update(self, channel: Channel, validated: dict[str, Any]) -> Channel:
        try:
            return services.channel_update(
                actor=self.context["request"].user, channel=channel, **self._values(validated)
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None


class ChannelViewSet(viewsets.ModelViewSet):
    """Where Feedkeeper tells about expiring tokens, failed pushes, health and rotations (admins only).
    `test` queues a test message: poll `/api/v1/notifications/{id}/`."""

    serializer_class = ChannelSerializer
    queryset = Channel.objects.prefetch_related("feeds", "targets").order_by("name")
    filterset_class = ChannelFilter
    action_roles = {"list": "admin", "retrieve": "admin", "test": "admin"}

    def perform_destroy(self, instance: Channel) -> None:
        services.channel_delete(actor=self.request.user, channel=instance)

    @extend_schema(request=None, responses={202: _ID_RESPONSE})
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Send a test message to the channel."""
        row = services.channel_test(actor=request.user, channel=self.get_object())
        return Response({"id": row.pk}, status=status.HTTP_202_ACCEPTED)


class NotificationSerializer(serializers.ModelSerializer):
    channel: serializers.PrimaryKeyRelatedField[Channel] = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "channel",
            "event",
            "subject",
            "status",
            "attempts",
            "sent_at",
            "object_type",
            "object_id",
            "error",
            "next_attempt_at",
            "created_at",
        ]
        read_only_fields = fields


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every notification with its delivery state; errors are redacted. `retry` sends a failed one again."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.order_by("-created_at", "-id")
    filterset_class = NotificationFilter

    @extend_schema(request=None, responses={202: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        try:
            row = services.notification_retry(actor=request.user, notification=self.get_object())
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(NotificationSerializer(row).data, status=status.HTTP_202_ACCEPTED)
