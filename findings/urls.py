from django.urls import path

from findings import views

app_name = "findings"

urlpatterns = [
    path("", views.FindingListView.as_view(), name="list"),
    path("<int:pk>/", views.FindingDetailView.as_view(), name="detail"),
    path("<int:pk>/ignore/", views.FindingIgnoreView.as_view(), name="ignore"),
    path("<int:pk>/replace/", views.FindingReplaceView.as_view(), name="replace"),
    path("<int:pk>/leaked/", views.FindingLeakedView.as_view(), name="leaked"),
    path("<int:pk>/remove-plaintext/", views.FindingRemovePlaintextView.as_view(), name="remove-plaintext"),
    path("target/<int:target_pk>/scan/", views.TargetScanView.as_view(), name="scan"),
    path("scans/<int:pk>/", views.ScanStatusView.as_view(), name="scan-status"),
]
