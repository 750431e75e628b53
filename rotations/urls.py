from django.urls import path

from rotations import views

app_name = "rotations"

urlpatterns = [
    path("", views.RotationListView.as_view(), name="list"),
    path("<int:pk>/", views.RotationDetailView.as_view(), name="detail"),
    path("<int:pk>/retry/", views.RotationRetryView.as_view(), name="retry"),
    path("<int:pk>/rollback/", views.RotationRollbackView.as_view(), name="rollback"),
    path("<int:pk>/restart/", views.RotationRestartView.as_view(), name="restart"),
    path("target/<int:target_pk>/rotate/", views.TargetRotateView.as_view(), name="target-rotate"),
    path("feed/<int:feed_pk>/rotate/", views.FeedRotateView.as_view(), name="rotate"),
    path("feed/<int:feed_pk>/leaked/", views.FeedLeakedView.as_view(), name="leaked"),
    path("feed/<int:feed_pk>/settings/", views.FeedRotationSettingsView.as_view(), name="settings"),
]
