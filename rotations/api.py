"""Rotations in the JSON API: `/api/v1/rotations/` (read, retry, rollback), and on feeds `rotate/` and
`dependents/`. Serializers shape data; services do the work."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import as_drf_error
from feeds.models import Feed
from rotations import services
from rotations.credential_services import credential_rotation_request
from rotations.dependents import feed_dependents
from rotations.models import Rotation, Status, Trigger
from targets.models import Target


class RotationFilter(django_filters.FilterSet):
    # Bounded like the ids they compare with: a huge number is a 400, not a database overflow (a 500).
    feed = django_filters.NumberFilter(field_name="feed_id", min_value=0, max_value=2**63 - 1)
    target = django_filters.NumberFilter(
        field_name="target_id", min_value=0, max_value=2**63 - 1, help_text="Rotations of this target's credential."
    )
    status = django_filters.ChoiceFilter(choices=Status.choices)
    trigger = django_filters.ChoiceFilter(choices=Trigger.choices)

    class Meta:
        model = Rotation
        fields = ["feed", "target", "status", "trigger"]


class RotationStepSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.CharField()
    detail = serializers.CharField()
    at = serializers.DateTimeField()
    attempts = serializers.IntegerField()


class RotationDeliverySerializer(serializers.Serializer):
    delivery = serializers.IntegerField()
    status = serializers.CharField()
    fingerprint = serializers.CharField()


class RotationSerializer(serializers.ModelSerializer):
    feed: serializers.PrimaryKeyRelatedField[Feed] = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="The feed whose token is rotated; null for a target's own credential."
    )
    target: serializers.PrimaryKeyRelatedField[Target] = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="The target whose own credential is rotated; null for a feed's token."
    )
    steps = serializers.SerializerMethodField()
    deliveries = serializers.SerializerMethodField()
    requested_by = serializers.CharField(source="requested_by_name", read_only=True)

    class Meta:
        model = Rotation
        fields = [
            "id",
            "feed",
            "target",
            "trigger",
            "emergency",
            "status",
            "phase",
            "steps",
            "deliveries",
            "new_fingerprint",
            "previous_fingerprint",
            "previous_revoked_at",
            "revoke_after",
            "requested_by",
            "error",
            "created_at",
            "completed_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RotationStepSerializer(many=True))
    def get_steps(self, rotation: Rotation) -> list[dict[str, Any]]:
        return [
            {"name": s.name, "status": s.status, "detail": s.detail, "at": s.at, "attempts": s.attempts}
            for s in rotation.steps.all()
        ]

    @extend_schema_field(RotationDeliverySerializer(many=True))
    def get_deliveries(self, rotation: Rotation) -> list[dict[str, Any]]:
        live = rotation.deliveries or {}
        return [
            {"delivery": int(pk), "status": d.get("status", ""), "fingerprint": d.get("fingerprint", "")}
            for pk, d in sorted(live.items(), key=lambda item: int(item[0]))
        ]


_ROTATION_ID = inline_serializer("RotationId", {"id": serializers.IntegerField()})


class RotationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Rotations, newest first. Filters: `feed`, `target`, `status`, `trigger`."""

    serializer_class = RotationSerializer
    queryset = Rotation.objects.prefetch_related("steps").order_by("-created_at", "-id")
    filterset_class = RotationFilter
    action_roles = {"rollback": "operator", "restart_clusters": "operator"}

    @extend_schema(request=None, responses={202: _ROTATION_ID})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Take a failed rotation up again where it failed (or run a failed revocation again)."""
        try:
            rotation = services.rotation_retry(actor=request.user, rotation=self.get_object())
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response({"id": rotation.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: _ROTATION_ID})
    @action(detail=True, methods=["post"])
    def rollback(self, request: Request, pk: str | None = None) -> Response:
        """Push the previous token everywhere again and discard the new one."""
        try:
            rotation = services.rotation_rollback(actor=request.user, rotation=self.get_object())
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response({"id": rotation.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=inline_serializer("RestartConsent", {"consent": serializers.BooleanField()}),
        responses={202: _ROTATION_ID},
    )
    @action(detail=True, methods=["post"], url_path="restart-clusters")
    def restart_clusters(self, request: Request, pk: str | None = None) -> Response:
        """Restart every cluster that still runs with the previous token (`consent: true` required): running
        work on them is interrupted. A worker does it; the outcome is in the audit history."""
        if request.data.get("consent") is not True:
            raise serializers.ValidationError(
                {"consent": ["Restarting interrupts what runs on those clusters: send consent: true."]}
            )
        try:
            rotation = services.rotation_restart_readers(actor=request.user, rotation=self.get_object())
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response({"id": rotation.pk}, status=status.HTTP_202_ACCEPTED)


class RotateRequestSerializer(serializers.Serializer):
    token = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=4096, write_only=True
    )
    token_expires_at = serializers.DateTimeField(required=False, allow_null=True)
    emergency = serializers.BooleanField(required=False, default=False)
    dry_run = serializers.BooleanField(required=False, default=False)


class DependentSerializer(serializers.Serializer):
    target = serializers.IntegerField()
    target_name = serializers.CharField()
    delivery = serializers.IntegerField()
    place = serializers.CharField()
    fingerprint = serializers.CharField()
    current = serializers.BooleanField()
    needs_restart = serializers.BooleanField()


class FeedRotateView(APIView):
    """`POST /api/v1/feeds/{id}/rotate/`: start a rotation (`token` pasted, or minted by the feed's connection;
    `emergency` for a leak). With `dry_run`, answers what a rotation would touch and changes nothing."""

    action_roles = {None: "operator"}

    @extend_schema(
        request=RotateRequestSerializer,
        responses={
            202: _ROTATION_ID,
            200: OpenApiResponse(description="The dry run's plan"),
            400: OpenApiResponse(description="Bad input, or a rotation of this feed is running"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        feed = get_object_or_404(Feed.objects.select_related("current_token", "rotation_connection"), pk=pk)
        data = RotateRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values.get("dry_run"):
            return Response(services.rotation_plan(feed))
        try:
            rotation = services.rotation_request(
                actor=request.user,
                feed=feed,
                token=values.get("token") or None,
                token_expires_at=values.get("token_expires_at"),
                emergency=bool(values.get("emergency")),
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response({"id": rotation.pk}, status=status.HTTP_202_ACCEPTED)


class FeedDependentsView(APIView):
    """`GET /api/v1/feeds/{id}/dependents/`: every place that holds or reads the feed's token."""

    @extend_schema(responses={200: DependentSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        feed = get_object_or_404(Feed.objects.select_related("current_token"), pk=pk)
        return Response(feed_dependents(feed))


class TargetRotateCredentialView(APIView):
    """`POST /api/v1/targets/{id}/rotate-credential/`: the target mints its own next credential (a Databricks PAT),
    switches to it, verifies it and deletes the previous one. Admins only."""

    action_roles = {None: "admin"}

    @extend_schema(
        request=None,
        responses={
            202: _ROTATION_ID,
            400: OpenApiResponse(description="The target cannot mint its credential, or a rotation of it runs"),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        target = get_object_or_404(Target, pk=pk)
        try:
            rotation = credential_rotation_request(actor=request.user, target=target)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response({"id": rotation.pk}, status=status.HTTP_202_ACCEPTED)
