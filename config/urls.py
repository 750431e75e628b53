"""URL configuration: pages, the JSON API under /api/v1/, /healthz."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core import views as core_views
from dashboard import views as dashboard_views

urlpatterns = [
    path("", dashboard_views.OverviewView.as_view(), name="overview"),
    path("healthz", core_views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/tokens/", dashboard_views.ApiTokenView.as_view(), name="api-tokens"),
    path("account/tokens/<int:pk>/revoke/", dashboard_views.ApiTokenRevokeView.as_view(), name="api-token-revoke"),
    path("feeds/", include("feeds.urls")),
    path("targets/", include("targets.urls")),
    path("rotations/", include("rotations.urls")),
    path("audit/", include("audit.urls")),
    path("api/v1/", include("config.api_urls")),
    path("admin/", admin.site.urls),
]
