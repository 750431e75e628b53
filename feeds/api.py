"""Feeds in the JSON API (`/api/v1/feeds/`). Serializers shape data; services do the work."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import as_drf_error
from feeds import connections, hooks, kinds, services
from feeds.filters import FeedCheckFilter, FeedFilter
from feeds.models import Connection, Feed, FeedCheck
from feeds.providers import choices as provider_choices


class FeedCheckSerializer(serializers.ModelSerializer):
    feed: serializers.PrimaryKeyRelatedField[Feed] = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = FeedCheck
        fields = [
            "id",
            "kind",
            "feed",
            "status",
            "http_status",
            "detail",
            "fingerprint",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class FeedSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=kinds.CHOICES, default="generic")
    index_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
    username = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    token = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=4096, style={"input_type": "password"}
    )
    token_expires_at = serializers.DateTimeField(required=False, allow_null=True)
    fingerprint = serializers.CharField(read_only=True)
    expiry_status = serializers.CharField(read_only=True)
    last_check = serializers.SerializerMethodField()
    rotation_connection = serializers.PrimaryKeyRelatedField(
        queryset=Connection.objects.all(), allow_null=True, required=False
    )
    next_rotation_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Feed
        fields = [
            "id",
            "name",
            "kind",
            "index_url",
            "username",
            "token",
            "token_expires_at",
            "fingerprint",
            "expiry_status",
            "organization",
            "project",
            "feed_name",
            "base_url",
            "repository",
            "rotation_connection",
            "rotation_interval_days",
            "rotation_lead_days",
            "rotation_grace_hours",
            "token_lifetime_days",
            "next_rotation_at",
            "last_check",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}

    def get_last_check(self, feed: Feed) -> dict[str, Any] | None:
        check = feed.last_check()
        return FeedCheckSerializer(check).data if check else None

    def to_representation(self, feed: Feed) -> dict[str, Any]:
        data = super().to_representation(feed)
        data["token_expires_at"] = (
            serializers.DateTimeField().to_representation(feed.token_expires_at) if feed.token_expires_at else None
        )
        data["expiry_status"] = feed.expiry_status()
        return data

    def create(self, validated: dict[str, Any]) -> Feed:
        if not validated.get("token"):
            raise serializers.ValidationError({"token": ["This field is required."]})
        try:
            return services.feed_create(actor=self.context["request"].user, **validated)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def update(self, feed: Feed, validated: dict[str, Any]) -> Feed:
        actor = self.context["request"].user
        token = validated.pop("token", None)
        has_expiry = "token_expires_at" in validated
        expires_at = validated.pop("token_expires_at", None)
        try:
            with transaction.atomic():
                if validated:
                    feed = services.feed_update(actor=actor, feed=feed, token_reentered=bool(token), **validated)
                if token:
                    services.feed_set_token(actor=actor, feed=feed, token=token, expires_at=expires_at)
                elif has_expiry:
                    services.feed_set_expiry(actor=actor, feed=feed, expires_at=expires_at)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Feed.objects.select_related("current_token").get(pk=feed.pk)


_ID_RESPONSE = inline_serializer("JobId", {"id": serializers.IntegerField()})


class FeedViewSet(viewsets.ModelViewSet):
    """Feeds. Tokens are write-only; a feed shows its token's fingerprint and expiry status instead."""

    serializer_class = FeedSerializer
    queryset = Feed.objects.select_related("current_token").order_by("name")
    filterset_class = FeedFilter

    def perform_destroy(self, instance: Feed) -> None:
        services.feed_delete(actor=self.request.user, feed=instance)

    @extend_schema(request=None, responses={202: _ID_RESPONSE})
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        """Start a credential check; poll `/api/v1/checks/{id}/` until its status is final."""
        check = services.feed_check_request(actor=request.user, feed=self.get_object())
        return Response({"id": check.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer("PushIds", {"ids": serializers.ListField(child=serializers.IntegerField())}),
            400: OpenApiResponse(description="No deliveries"),
        },
    )
    @action(detail=True, methods=["post"])
    def push(self, request: Request, pk: str | None = None) -> Response:
        """Push every delivery of the feed; answers the ids of the push records."""
        pushes = hooks.push_everywhere(self.get_object(), actor=request.user)
        return Response({"ids": [p.pk for p in pushes]}, status=status.HTTP_202_ACCEPTED)


class FeedCheckViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Feed checks, newest first (a single check is read at `/api/v1/checks/{id}/`). Filters: `feed`, `status`."""

    serializer_class = FeedCheckSerializer
    queryset = FeedCheck.objects.order_by("-created_at", "-id")
    filterset_class = FeedCheckFilter


class ConnectionSerializer(serializers.ModelSerializer):
    """A connection; ``token`` and ``client_secret`` are write-only, the refresh token never leaves."""

    kind = serializers.ChoiceField(choices=provider_choices())
    token = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=4096, style={"input_type": "password"}
    )
    client_secret = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=4096, style={"input_type": "password"}
    )
    tenant_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    client_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    fingerprint = serializers.CharField(source="credential_fingerprint", read_only=True)
    connected = serializers.SerializerMethodField()

    class Meta:
        model = Connection
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "token",
            "tenant_id",
            "client_id",
            "client_secret",
            "fingerprint",
            "connected",
            "consented_by",
            "status",
            "status_detail",
            "checked_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "consented_by", "status", "status_detail", "checked_at", "created_at", "updated_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}, "url": {"validators": []}}

    def get_connected(self, connection: Connection) -> bool:
        """Whether an admin's consent is held (Azure DevOps), or a token is stored (JFrog)."""
        return bool(connection.refresh_token or connection.credential)

    def create(self, validated: dict[str, Any]) -> Connection:
        try:
            return connections.connection_create(actor=self.context["request"].user, **validated)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def update(self, connection: Connection, validated: dict[str, Any]) -> Connection:
        try:
            return connections.connection_update(actor=self.context["request"].user, connection=connection, **validated)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None


class ConnectionViewSet(viewsets.ModelViewSet):
    """Connections that mint and revoke feed tokens (admins only). An Azure DevOps connection is authorized in
    the browser ("Connect" on its page); `check` queues a check whose outcome is the connection's `status`."""

    serializer_class = ConnectionSerializer
    queryset = Connection.objects.order_by("name")
    action_roles = {"list": "admin", "retrieve": "admin", "check": "admin"}

    def perform_destroy(self, instance: Connection) -> None:
        try:
            connections.connection_delete(actor=self.request.user, connection=instance)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    @extend_schema(request=None, responses={202: _ID_RESPONSE})
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str | None = None) -> Response:
        """Check the connection; poll it until `checked_at` changes."""
        connection = connections.connection_check_request(actor=request.user, connection=self.get_object())
        return Response({"id": connection.pk}, status=status.HTTP_202_ACCEPTED)
