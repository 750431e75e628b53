from django.urls import path

from targets import views

app_name = "targets"

urlpatterns = [
    path("", views.TargetListView.as_view(), name="list"),
    path("new/", views.TargetCreateView.as_view(), name="create"),
    path("<int:pk>/", views.TargetDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.TargetEditView.as_view(), name="edit"),
    path("<int:pk>/delete/", views.TargetDeleteView.as_view(), name="delete"),
    path("<int:pk>/check/", views.TargetCheckView.as_view(), name="check"),
    path("<int:pk>/push-all/", views.TargetPushAllView.as_view(), name="push-all"),
    path("<int:pk>/deliveries/new/", views.DeliveryCreateView.as_view(), name="delivery-create"),
    path("checks/<int:pk>/", views.TargetCheckStatusView.as_view(), name="check-status"),
    path("deliveries/", views.DeliveryListView.as_view(), name="deliveries"),
    path("deliveries/<int:pk>/", views.DeliveryDetailView.as_view(), name="delivery-detail"),
    path("deliveries/<int:pk>/edit/", views.DeliveryEditView.as_view(), name="delivery-edit"),
    path("deliveries/<int:pk>/delete/", views.DeliveryDeleteView.as_view(), name="delivery-delete"),
    path("deliveries/<int:pk>/row/", views.DeliveryRowView.as_view(), name="delivery-row"),
    path("deliveries/<int:pk>/push/", views.DeliveryPushView.as_view(), name="delivery-push"),
    path("pushes/<int:pk>/", views.PushRowView.as_view(), name="push-row"),
]
