"""/api/v1/ routes of the accounts app (included by controlplane/urls.py)."""

from django.urls import path

from .api import (
    ApiTokenDetailView,
    ApiTokenListView,
    RoleGrantDetailView,
    RoleGrantListView,
    UserDetailView,
    UserListView,
    UserPasswordLinkView,
)

urlpatterns = [
    path("clusters/<slug:cluster>/grants/", RoleGrantListView.as_view(), name="api-rolegrant-list"),
    path(
        "clusters/<slug:cluster>/grants/<str:username>/",
        RoleGrantDetailView.as_view(),
        name="api-rolegrant-detail",
    ),
    path("tokens/", ApiTokenListView.as_view(), name="api-token-list"),
    path("tokens/<int:token_id>/", ApiTokenDetailView.as_view(), name="api-token-detail"),
    path("users/", UserListView.as_view(), name="api-user-list"),
    path("users/<str:username>/", UserDetailView.as_view(), name="api-user-detail"),
    path(
        "users/<str:username>/password-link/",
        UserPasswordLinkView.as_view(),
        name="api-user-password-link",
    ),
]
