from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.NotificationListView.as_view(), name="history"),
    path("<int:pk>/retry/", views.NotificationRetryView.as_view(), name="retry"),
    path("channels/", views.ChannelListView.as_view(), name="channels"),
    path("channels/new/", views.ChannelCreateView.as_view(), name="channel-create"),
    path("channels/<int:pk>/edit/", views.ChannelEditView.as_view(), name="channel-edit"),
    path("channels/<int:pk>/delete/", views.ChannelDeleteView.as_view(), name="channel-delete"),
    path("channels/<int:pk>/test/", views.ChannelTestView.as_view(), name="channel-test"),
    path("mine/", views.SubscriptionView.as_view(), name="subscription"),
]
