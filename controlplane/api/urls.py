"""Every /api/v1/ route, gathered from the apps that own them."""

from django.urls import path

from controlplane.accounts.api import RoleGrantDetailView, RoleGrantListView
from controlplane.audit.api import ActionDetailView, AuditListView
from controlplane.clusters.api import (
    ClusterDetailView,
    ClusterListView,
    ClusterTestView,
    KubeconfigPreviewView,
)
from deployments.api import api_urlpatterns as deployment_urlpatterns

urlpatterns = [
    path("clusters/", ClusterListView.as_view(), name="api-cluster-list"),
    path("clusters/preview/", KubeconfigPreviewView.as_view(), name="api-cluster-preview"),
    path("clusters/<slug:cluster>/", ClusterDetailView.as_view(), name="api-cluster-detail"),
    path("clusters/<slug:cluster>/test/", ClusterTestView.as_view(), name="api-cluster-test"),
    path("clusters/<slug:cluster>/grants/", RoleGrantListView.as_view(), name="api-rolegrant-list"),
    path(
        "clusters/<slug:cluster>/grants/<str:username>/",
        RoleGrantDetailView.as_view(),
        name="api-rolegrant-detail",
    ),
    path("actions/<uuid:pk>/", ActionDetailView.as_view(), name="api-action-detail"),
    path("audit/", AuditListView.as_view(), name="api-audit-list"),
    *deployment_urlpatterns,
]
