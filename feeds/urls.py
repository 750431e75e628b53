from django.urls import path

from feeds import views

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
]
