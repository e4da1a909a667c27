"""/api/v1/ routes of the accounts app (included by controlplane/urls.py)."""

from django.urls import path

from .api import RoleGrantDetailView, RoleGrantListView

urlpatterns = [
    path("clusters/<slug:cluster>/grants/", RoleGrantListView.as_view(), name="api-rolegrant-list"),
    path(
        "clusters/<slug:cluster>/grants/<str:username>/",
        RoleGrantDetailView.as_view(),
        name="api-rolegrant-detail",
    ),
]
