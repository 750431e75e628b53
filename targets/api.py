"""Targets, deliveries, pushes and target checks in the JSON API (see shared/API.md)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import as_drf_error
from feeds.models import Feed
from targets import services
from targets.adapters import kind_choices
from targets.models import Delivery, Push, Target, TargetCheck


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    checked_at = serializers.DateTimeField(allow_null=True)


class TargetSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=kind_choices())
    url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    auth_type = serializers.CharField(required=False, allow_blank=True)
    token = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=4096,
        style={"input_type": "password"},
    )
    client_id = serializers.CharField(required=False, allow_blank=True, max_length=200)
    client_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=4096,
        style={"input_type": "password"},
    )
    organization = serializers.CharField(required=False, allow_blank=True, max_length=200)
    health = serializers.SerializerMethodField()
    credential_fingerprint = serializers.CharField(read_only=True)

    class Meta:
        model = Target
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "auth_type",
            "token",
            "client_id",
            "client_secret",
            "organization",
            "organization_id",
            "credential_fingerprint",
            "max_concurrency",
            "info",
            "health",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "organization_id", "info", "created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}, "max_concurrency": {"required": False}}

    @extend_schema_field(HealthSerializer)  # type: ignore[misc]
    def get_health(self, target: Target) -> dict[str, Any]:
        checked = target.health_checked_at
        return {
            "status": target.health,
            "checked_at": serializers.DateTimeField().to_representation(checked) if checked else None,
        }

    def create(self, validated: dict[str, Any]) -> Target:
        try:
            return services.target_create(actor=self.context["request"].user, **validated)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def update(self, target: Target, validated: dict[str, Any]) -> Target:
        if "kind" in validated and validated.pop("kind") != target.kind:
            raise serializers.ValidationError({"kind": ["The kind of a target cannot change."]})
        try:
            return services.target_update(actor=self.context["request"].user, target=target, **validated)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None


class TargetCheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = TargetCheck
        fields = ["id", "kind", "target", "status", "detail", "results", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    feed = serializers.PrimaryKeyRelatedField(queryset=Feed.objects.all())
    target = serializers.PrimaryKeyRelatedField(queryset=Target.objects.all())
    mode = serializers.CharField(required=False, allow_blank=True)
    role = serializers.CharField(required=False)
    scope = serializers.CharField(required=False, allow_blank=True, max_length=128)
    key = serializers.CharField(required=False, allow_blank=True, max_length=128)
    clusters = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=200)
    env_var = serializers.CharField(required=False, allow_blank=True, max_length=64)
    policy_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    projects = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=1000)
    variable = serializers.CharField(required=False, allow_blank=True, max_length=128)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "feed",
            "target",
            "mode",
            "role",
            "scope",
            "key",
            "clusters",
            "env_var",
            "policy_id",
            "projects",
            "variable",
            "location",
            "status",
            "delivered_fingerprint",
            "last_pushed_at",
            "last_error",
            "state",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "location",
            "status",
            "delivered_fingerprint",
            "last_pushed_at",
            "last_error",
            "state",
            "created_at",
            "updated_at",
        ]

    def create(self, validated: dict[str, Any]) -> Delivery:
        try:
            return services.delivery_create(actor=self.context["request"].user, **validated)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def update(self, delivery: Delivery, validated: dict[str, Any]) -> Delivery:
        for field in ("feed", "target"):
            if field in validated and validated.pop(field) != getattr(delivery, field):
                raise serializers.ValidationError({field: ["Create a new delivery instead of moving this one."]})
        try:
            return services.delivery_update(actor=self.context["request"].user, delivery=delivery, **validated)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None


class PushSerializer(serializers.ModelSerializer):
    class Meta:
        model = Push
        fields = [
            "id",
            "delivery",
            "target",
            "status",
            "reason",
            "restart_consent",
            "attempts",
            "fingerprint",
            "remote_ts",
            "error",
            "detail",
            "created_at",
            "started_at",
            "finished_at",
            "next_attempt_at",
        ]
        read_only_fields = fields


class PushRequestSerializer(serializers.Serializer):
    restart_consent = serializers.BooleanField(
        default=False,
        help_text="Agree that wiring a RUNNING cluster restarts it. Without it, running clusters "
        "are wired on their next restart.",
    )


_ID = inline_serializer("PushId", {"id": serializers.IntegerField()})


class TargetViewSet(viewsets.ModelViewSet):
    """Databricks workspaces and Valohai organizations. Credentials are write-only."""

    serializer_class = TargetSerializer
    queryset = Target.objects.order_by("name")

    def perform_destroy(self, instance: Target) -> None:
        services.target_delete(actor=self.request.user, target=instance)

    @extend_schema(request=None, responses={202: _ID})
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        """Run the target's health checks; poll `/api/v1/checks/{id}/`."""
        check = services.target_check_request(actor=request.user, target=self.get_object())
        return Response({"id": check.pk}, status=status.HTTP_202_ACCEPTED)


class DeliveryViewSet(viewsets.ModelViewSet):
    """Where each feed's credentialed index URL must live. Filters: `feed`, `target`, `status`."""

    serializer_class = DeliverySerializer

    def get_queryset(self) -> Any:
        qs = Delivery.objects.select_related("feed", "target").order_by("id")
        for field in ("feed", "target", "status"):
            value = self.request.query_params.get(field)
            if value:
                if field != "status" and not value.isdigit():
                    raise serializers.ValidationError({field: ["Give a numeric id."]})
                qs = qs.filter(**{field: value})
        return qs

    def perform_destroy(self, instance: Delivery) -> None:
        services.delivery_delete(actor=self.request.user, delivery=instance)

    @extend_schema(request=PushRequestSerializer, responses={202: _ID})
    @action(detail=True, methods=["post"])
    def push(self, request: Request, pk: str | None = None) -> Response:
        """Push now; poll `/api/v1/pushes/{id}/` until `succeeded` or `failed`."""
        body = PushRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        push = services.delivery_push(
            actor=request.user, delivery=self.get_object(), restart_consent=body.validated_data["restart_consent"]
        )
        return Response({"id": push.pk}, status=status.HTTP_202_ACCEPTED)


class PushViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Records of pushes, newest first. Filters: `delivery`, `status`."""

    serializer_class = PushSerializer

    def get_queryset(self) -> Any:
        qs = Push.objects.order_by("-created_at", "-id")
        delivery = self.request.query_params.get("delivery")
        if delivery:
            if not delivery.isdigit():
                raise serializers.ValidationError({"delivery": ["Give a numeric id."]})
            qs = qs.filter(delivery_id=delivery)
        if self.request.query_params.get("status"):
            qs = qs.filter(status=self.request.query_params["status"])
        return qs
