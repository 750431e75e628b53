from django.urls import path

from feeds import connection_views, views

app_name = "feeds"

urlpatterns = [
    path("", views.FeedListView.as_view(), name="list"),
    path("new/", views.FeedCreateView.as_view(), name="create"),
    path("<int:pk>/", views.FeedDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.FeedEditView.as_view(), name="edit"),
    path("<int:pk>/token/", views.FeedTokenView.as_view(), name="token"),
    path("<int:pk>/delete/", views.FeedDeleteView.as_view(), name="delete"),
    path("<int:pk>/check/", views.FeedCheckView.as_view(), name="check"),
    path("checks/<int:pk>/", views.CheckRowView.as_view(), name="check-row"),
    path("connections/", connection_views.ConnectionListView.as_view(), name="connections"),
    path("connections/new/", connection_views.ConnectionCreateView.as_view(), name="connection-create"),
    path("connections/callback/", connection_views.ConnectionCallbackView.as_view(), name="connection-callback"),
    path("connections/<int:pk>/", connection_views.ConnectionDetailView.as_view(), name="connection-detail"),
    path("connections/<int:pk>/edit/", connection_views.ConnectionEditView.as_view(), name="connection-edit"),
    path("connections/<int:pk>/delete/", connection_views.ConnectionDeleteView.as_view(), name="connection-delete"),
    path("connections/<int:pk>/check/", connection_views.ConnectionCheckView.as_view(), name="connection-check"),
    path("connections/<int:pk>/connect/", connection_views.ConnectionConnectView.as_view(), name="connection-connect"),
]
