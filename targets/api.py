"""Targets, deliveries, pushes and target checks in the JSON API (the contract: README, "API")."""

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
from targets import checks, services
from targets.adapters import FieldSpec, all_fields, kind_choices, secret_inputs
from targets.filters import DeliveryFilter, PushFilter, TargetCheckFilter
from targets.models import Delivery, Push, Target, TargetCheck


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    checked_at = serializers.DateTimeField(allow_null=True)


class _ConfigText(serializers.CharField):
    """A platform setting kept in the object's ``config``, under the field's name (flat in the API)."""

    def get_attribute(self, instance: Any) -> Any:
        return (instance.config or {}).get(self.field_name, "")


class _ConfigList(serializers.ListField):
    def get_attribute(self, instance: Any) -> Any:
        return (instance.config or {}).get(self.field_name, [])


def setting_fields(specs: dict[str, FieldSpec]) -> dict[str, serializers.Field]:
    """API fields for the adapters' declared settings (every platform's, with their flat contract names)."""
    out: dict[str, serializers.Field] = {}
    for name, spec in specs.items():
        if spec.many:
            out[name] = _ConfigList(
                child=serializers.CharField(max_length=spec.max_length),
                required=False,
                max_length=spec.max_items,
                help_text=spec.help,
            )
        else:
            out[name] = _ConfigText(required=False, allow_blank=True, max_length=spec.max_length, help_text=spec.help)
    return out


def _secret_fields() -> dict[str, serializers.Field]:
    return {
        name: serializers.CharField(
            write_only=True,
            required=False,
            allow_blank=True,
            trim_whitespace=False,
            max_length=4096,
            style={"input_type": "password"},
            help_text=f"Write-only. {auth.secret_label} for the {auth.key!r} auth type.",
        )
        for name, auth in secret_inputs().items()
    }


class _OrganizationId(serializers.CharField):
    def get_attribute(self, instance: Any) -> Any:
        return str((instance.info or {}).get("organization_id") or "")


class TargetSerializer(serializers.ModelSerializer):
    """Common fields are columns; each platform's settings (``client_id``, ``organization``, ...) and credential
    inputs (``token``, ``client_secret``, ...) come from the adapters' declarations."""

    kind = serializers.ChoiceField(choices=kind_choices())
    url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    auth_type = serializers.CharField(required=False, allow_blank=True)
    organization_id = _OrganizationId(read_only=True, help_text="Resolved by the platform (Valohai).")
    health = serializers.SerializerMethodField()
    credential_fingerprint = serializers.CharField(read_only=True)
    credential_expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the credential expires: entered, or read from the platform where it tells (then that wins).",
    )
    credential_expiry_status = serializers.SerializerMethodField(
        help_text="`ok`, `expiring`, `expired` or `unknown`, by the same thresholds as feed tokens."
    )
    credential_rotation_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Rotate the target's own credential this often (Databricks PAT only); null: never.",
    )
    credential_lifetime_days = serializers.IntegerField(
        required=False, help_text="How long a credential the target mints for itself stays valid."
    )

    class Meta:
        model = Target
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "auth_type",
            "organization_id",
            "credential_fingerprint",
            "credential_expires_at",
            "credential_expires_source",
            "credential_expiry_status",
            "credential_rotation_days",
            "credential_lifetime_days",
            "credential_next_rotation_at",
            "max_concurrency",
            "info",
            "health",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "info",
            "credential_expires_source",
            "credential_next_rotation_at",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"name": {"validators": []}, "max_concurrency": {"required": False}}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields.update(setting_fields(all_fields("target")))
        fields.update(_secret_fields())
        return fields

    def get_credential_expiry_status(self, target: Target) -> str:
        return target.credential_expiry_status()

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
    """``mode``, ``role`` and each platform's settings (``scope``, ``key``, ``clusters``, ``projects``,
    ``variable``, ...) flat, as the adapters declare them; a setting the delivery does not use reads empty."""

    feed = serializers.PrimaryKeyRelatedField(queryset=Feed.objects.all())
    target = serializers.PrimaryKeyRelatedField(queryset=Target.objects.all())
    mode = serializers.CharField(required=False, allow_blank=True)
    role = serializers.CharField(required=False)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "feed",
            "target",
            "mode",
            "role",
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

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields.update(setting_fields(all_fields("delivery")))
        return fields

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
        check = checks.target_check_request(actor=request.user, target=self.get_object())
        return Response({"id": check.pk}, status=status.HTTP_202_ACCEPTED)


class DeliveryViewSet(viewsets.ModelViewSet):
    """Where each feed's credentialed index URL must live. Filters: `feed`, `target`, `status`, `mode`."""

    serializer_class = DeliverySerializer
    queryset = Delivery.objects.select_related("feed", "target").order_by("id")
    filterset_class = DeliveryFilter

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
    """Records of pushes, newest first. Filters: `delivery`, `target`, `status`."""

    serializer_class = PushSerializer
    queryset = Push.objects.order_by("-created_at", "-id")
    filterset_class = PushFilter


class TargetCheckViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Target health checks, newest first (a single check is read at `/api/v1/checks/{id}/`). Filters: `target`,
    `status`."""

    serializer_class = TargetCheckSerializer
    queryset = TargetCheck.objects.order_by("-created_at", "-id")
    filterset_class = TargetCheckFilter
