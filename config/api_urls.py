"""The JSON API, v1: one router for the viewsets, the schema, and the check records of every kind."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from audit.api import AuditEventViewSet
from core.api.views import CheckDetailView, register_check_kind
from feeds.api import ConnectionViewSet, FeedCheckSerializer, FeedCheckViewSet, FeedViewSet
from feeds.models import FeedCheck
from findings.api import FindingViewSet, TargetScanView
from notifications.api import ChannelViewSet, NotificationViewSet
from rotations.api import FeedDependentsView, FeedRotateView, RotationViewSet, TargetRotateCredentialView
from targets.api import DeliveryViewSet, PushViewSet, TargetCheckSerializer, TargetCheckViewSet, TargetViewSet
from targets.models import TargetCheck

register_check_kind("feed", FeedCheck, FeedCheckSerializer)
register_check_kind("target", TargetCheck, TargetCheckSerializer)

router = DefaultRouter()
router.register("feeds", FeedViewSet, basename="feed")
router.register("feed-checks", FeedCheckViewSet, basename="feed-check")
router.register("targets", TargetViewSet, basename="target")
router.register("target-checks", TargetCheckViewSet, basename="target-check")
router.register("deliveries", DeliveryViewSet, basename="delivery")
router.register("pushes", PushViewSet, basename="push")
router.register("audit", AuditEventViewSet, basename="audit")
router.register("rotations", RotationViewSet, basename="rotation")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("notification-channels", ChannelViewSet, basename="notification-channel")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("findings", FindingViewSet, basename="finding")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("checks/<int:pk>/", CheckDetailView.as_view(), name="check-detail"),
    path("feeds/<int:pk>/rotate/", FeedRotateView.as_view(), name="feed-rotate"),
    path("feeds/<int:pk>/dependents/", FeedDependentsView.as_view(), name="feed-dependents"),
    path("targets/<int:pk>/rotate-credential/", TargetRotateCredentialView.as_view(), name="target-rotate-credential"),
    path("targets/<int:pk>/scan/", TargetScanView.as_view(), name="target-scan"),
    *router.urls,
]
