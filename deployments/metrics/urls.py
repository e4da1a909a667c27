from django.urls import path

from . import views

app_name = "metrics"

urlpatterns = [
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/<str:name>/metrics/",
        views.deployment_metrics_view,
        name="deployment",
    ),
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/pods/<str:name>/metrics/",
        views.pod_metrics_view,
        name="pod",
    ),
    path("c/<slug:cluster>/nodes/<str:name>/metrics/", views.node_metrics_view, name="node"),
]
