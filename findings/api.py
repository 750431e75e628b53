"""Findings in the JSON API: `GET /api/v1/findings/` (filters `target`, `feed`, `status`, `token_match`), what an
admin does with one (`ignore/`, `replace/`, `leaked/`), and `POST /api/v1/targets/{id}/scan/`. Serializers shape
data; services do the work."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import as_drf_error
from feeds.models import Feed
from findings import services
from findings.filters import FindingFilter
from findings.models import Finding, ScanRun
from targets.models import Target


class FindingSerializer(serializers.ModelSerializer):
    """A credential in plain sight: never the credential, only its ``fingerprint`` and a redacted ``excerpt``."""

    feed: serializers.PrimaryKeyRelatedField[Feed] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The feed matched by host and path (or by the token); null: none."
    )
    replaceable = serializers.SerializerMethodField(
        help_text="Whether `replace/` can remove the plaintext here (else `advice` says what to do by hand)."
    )
    advice = serializers.SerializerMethodField()
    plaintext_removable = serializers.SerializerMethodField(
        help_text="A two-step replacement (GitHub variables) whose delivery is delivered: `remove-plaintext/` may run."
    )

    class Meta:
        model = Finding
        fields = [
            "id",
            "target",
            "location",
            "feed",
            "excerpt",
            "status",
            "first_seen",
            "last_seen",
            "kind",
            "token_match",
            "fingerprint",
            "source",
            "resolved_at",
            "resolution",
            "ignored_reason",
            "replaced_by",
            "replaceable",
            "plaintext_removable",
            "advice",
        ]
        read_only_fields = fields

    def get_replaceable(self, finding: Finding) -> bool:
        return services.replacement_for(finding) is not None

    def get_plaintext_removable(self, finding: Finding) -> bool:
        return services.plaintext_removable(finding)

    def get_advice(self, finding: Finding) -> str:
        return "" if services.replacement_for(finding) is not None else services.manual_advice(finding)


class ScanRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScanRun
        fields = ["id", "kind", "target", "status", "detail", "sources", "counts", "created_at", "started_at"]
        fields += ["finished_at"]
        read_only_fields = fields


class IgnoreSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=services.MAX_REASON, help_text="Why this finding is ignored.")


class ReplaceSerializer(serializers.Serializer):
    feed = serializers.PrimaryKeyRelatedField(
        queryset=Feed.objects.all(), required=False, help_text="Default: the matched feed."
    )
    scope = serializers.CharField(required=False, allow_blank=True, max_length=128, help_text="Databricks only.")
    key = serializers.CharField(required=False, allow_blank=True, max_length=128, help_text="Databricks only.")
    restart_consent = serializers.BooleanField(
        default=False, help_text="Agree that re-pointing a RUNNING cluster restarts it (else: at its next restart)."
    )


_ID = inline_serializer("FindingWorkId", {"id": serializers.IntegerField()})


class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Credentials found in plain sight, most recently seen first. Filters: `target`, `feed`, `status`,
    `token_match`."""

    serializer_class = FindingSerializer
    queryset = Finding.objects.select_related("target", "replaced_by").order_by("-last_seen", "-id")
    filterset_class = FindingFilter
    action_roles = {"ignore": "admin", "replace": "admin", "leaked": "admin", "remove_plaintext": "admin"}

    @extend_schema(request=IgnoreSerializer, responses={200: FindingSerializer})
    @action(detail=True, methods=["post"])
    def ignore(self, request: Request, pk: str | None = None) -> Response:
        """Ignore the finding, with a reason (admins)."""
        body = IgnoreSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            finding = services.finding_ignore(
                actor=request.user, finding=self.get_object(), reason=body.validated_data["reason"]
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(FindingSerializer(finding).data)

    @extend_schema(request=ReplaceSerializer, responses={202: _ID, 400: OpenApiResponse(description="Bad input")})
    @action(detail=True, methods=["post"])
    def replace(self, request: Request, pk: str | None = None) -> Response:
        """Replace the plaintext with a managed delivery (admins); answers the delivery's id
        (`/api/v1/deliveries/{id}/`)."""
        body = ReplaceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        try:
            delivery = services.finding_replace(
                actor=request.user,
                finding=self.get_object(),
                feed=values.get("feed"),
                scope=values.get("scope", ""),
                key=values.get("key", ""),
                restart_consent=values["restart_consent"],
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response({"id": delivery.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: _ID, 400: OpenApiResponse(description="No feed, or a rotation runs")})
    @action(detail=True, methods=["post"])
    def leaked(self, request: Request, pk: str | None = None) -> Response:
        """This token leaked: start an emergency rotation of the matched feed (admins); answers the rotation's
        id (`/api/v1/rotations/{id}/`)."""
        try:
            rotation = services.finding_leaked(actor=request.user, finding=self.get_object())
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response({"id": rotation.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: OpenApiResponse(description="Deleting"), 400: OpenApiResponse(description="Not yet possible")},
    )
    @action(detail=True, methods=["post"], url_path="remove-plaintext")
    def remove_plaintext(self, request: Request, pk: str | None = None) -> Response:
        """Second step of a two-step replacement (GitHub variables, admins): once the managed delivery is delivered,
        delete the plaintext variable; the finding is resolved when it is gone."""
        try:
            services.finding_remove_plaintext_request(actor=request.user, finding=self.get_object())
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(status=status.HTTP_202_ACCEPTED)


class TargetScanView(APIView):
    """`POST /api/v1/targets/{id}/scan/`: scan the target for credentials in plain sight (operators); poll
    `/api/v1/checks/{id}/` until `status` is `ok`, `partial` or `failed`."""

    action_roles: dict[Any, str] = {None: "operator"}

    @extend_schema(request=None, responses={202: _ID})
    def post(self, request: Request, pk: int) -> Response:
        target = get_object_or_404(Target, pk=pk)
        scan = services.target_scan_request(actor=request.user, target=target)
        return Response({"id": scan.pk}, status=status.HTTP_202_ACCEPTED)
