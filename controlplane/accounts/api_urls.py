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
from .sso_api import GroupMappingDetailView, GroupMappingListView

urlpatterns = [
    path("clusters/<slug:cluster>/grants/", RoleGrantListView.as_view(), name="api-rolegrant-list"),
    path(
        "clusters/<slug:cluster>/grants/<str:username>/",
        RoleGrantDetailView.as_view(),
        name="api-rolegrant-detail",
    ),
    path(
        "clusters/<slug:cluster>/group-mappings/",
        GroupMappingListView.as_view(),
        name="api-groupmapping-list",
    ),
    path(
        "clusters/<slug:cluster>/group-mappings/<int:mapping_id>/",
        GroupMappingDetailView.as_view(),
        name="api-groupmapping-detail",
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
