"""/api/v1/ routes of the clusters app (included by controlplane/urls.py)."""

from django.urls import path

from .api import ClusterDetailView, ClusterListView, ClusterTestView, KubeconfigPreviewView

urlpatterns = [
    path("clusters/", ClusterListView.as_view(), name="api-cluster-list"),
    path("clusters/preview/", KubeconfigPreviewView.as_view(), name="api-cluster-preview"),
    path("clusters/<slug:cluster>/", ClusterDetailView.as_view(), name="api-cluster-detail"),
    path("clusters/<slug:cluster>/test/", ClusterTestView.as_view(), name="api-cluster-test"),
]
