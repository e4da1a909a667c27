"""/api/v1/ routes of the metrics (included by controlplane/urls.py)."""

from django.urls import path

from .api import DeploymentMetricsView, NodeMetricsView, PodMetricsView

_NS = "clusters/<slug:cluster>/namespaces/<slug:namespace>"

urlpatterns = [
    path(
        f"{_NS}/deployments/<str:name>/metrics/",
        DeploymentMetricsView.as_view(),
        name="api-deployment-metrics",
    ),
    path(f"{_NS}/pods/<str:name>/metrics/", PodMetricsView.as_view(), name="api-pod-metrics"),
    path(
        "clusters/<slug:cluster>/nodes/<str:name>/metrics/",
        NodeMetricsView.as_view(),
        name="api-node-metrics",
    ),
]
