from django.urls import path

from . import views

app_name = "logs"

urlpatterns = [
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/pods/<str:pod>/logs/",
        views.pod_logs_view,
        name="pod",
    ),
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/<str:kind>s/<str:name>/logs/",
        views.workload_logs_view,
        name="workload",
    ),
]
