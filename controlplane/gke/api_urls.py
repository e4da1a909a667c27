"""/api/v1/gke/ routes (included by controlplane/urls.py)."""

from django.urls import path

from . import api

_LOC = "gke/projects/<str:project>/locations/<str:location>/"
_CLUSTER = _LOC + "clusters/<str:name>/"
_POOL = _CLUSTER + "nodepools/<str:pool>/"

urlpatterns = [
    path("gke/credentials/", api.CredentialListView.as_view(), name="api-gke-credential-list"),
    path(
        "gke/credentials/<str:project>/",
        api.CredentialDetailView.as_view(),
        name="api-gke-credential-detail",
    ),
    path(_LOC + "clusters/", api.ClusterListView.as_view(), name="api-gke-cluster-list"),
    path(_CLUSTER, api.ClusterDetailView.as_view(), name="api-gke-cluster-detail"),
    path(_CLUSTER + "nodepools/", api.NodePoolListView.as_view(), name="api-gke-nodepool-list"),
    path(_POOL, api.NodePoolDetailView.as_view(), name="api-gke-nodepool-detail"),
    path(_POOL + "size/", api.NodePoolSizeView.as_view(), name="api-gke-nodepool-size"),
    path(
        _POOL + "autoscaling/",
        api.NodePoolAutoscalingView.as_view(),
        name="api-gke-nodepool-autoscaling",
    ),
    path(_LOC + "operations/", api.OperationListView.as_view(), name="api-gke-operation-list"),
]
