"""/api/v1/ routes of the trainer app (included by controlplane/urls.py)."""

from django.urls import path

from . import api

_BASE = "clusters/<slug:cluster>/namespaces/<slug:namespace>/trainingruns/"

urlpatterns = [
    path(_BASE, api.TrainingRunListView.as_view(), name="api-trainingrun-list"),
    path(
        f"{_BASE}<int:run_id>/", api.TrainingRunDetailView.as_view(), name="api-trainingrun-detail"
    ),
    path(
        f"{_BASE}<int:run_id>/cancel/",
        api.TrainingRunCancelView.as_view(),
        name="api-trainingrun-cancel",
    ),
    path(
        f"{_BASE}<int:run_id>/rerun/",
        api.TrainingRunRerunView.as_view(),
        name="api-trainingrun-rerun",
    ),
    path(
        f"{_BASE}<int:run_id>/deploy/",
        api.TrainingRunDeployView.as_view(),
        name="api-trainingrun-deploy",
    ),
]
