"""URL configuration: pages, the JSON API under /api/v1/, /healthz."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core import views as core_views
from dashboard import views as dashboard_views
from notifications.metrics import metrics_view

urlpatterns = [
    path("", dashboard_views.OverviewView.as_view(), name="overview"),
    path("healthz", core_views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("docs/api/", dashboard_views.ApiDocsView.as_view(), name="api-docs"),
    path("account/tokens/", dashboard_views.ApiTokenView.as_view(), name="api-tokens"),
    path("account/tokens/<int:pk>/revoke/", dashboard_views.ApiTokenRevokeView.as_view(), name="api-token-revoke"),
    path("account/", include("accounts.urls")),
    path("feeds/", include("feeds.urls")),
    path("targets/", include("targets.urls")),
    path("rotations/", include("rotations.urls")),
    path("findings/", include("findings.urls")),
    path("audit/", include("audit.urls")),
    path("notifications/", include("notifications.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/", include("config.api_urls")),
    path("admin/", admin.site.urls),
]

# API URLs that match no route answer JSON, like every other API error.
handler404 = "core.api.views.not_found"
