"""/api/v1/ routes of the experiments app (included by controlplane/urls.py)."""

from django.urls import path

from . import api

_BASE = "clusters/<slug:cluster>/namespaces/<slug:namespace>/experiments/"
_ONE = f"{_BASE}<str:name>/"

urlpatterns = [
    path(_BASE, api.ExperimentListView.as_view(), name="api-experiment-list"),
    path(_ONE, api.ExperimentDetailView.as_view(), name="api-experiment-detail"),
    path(f"{_ONE}start/", api.ExperimentStartView.as_view(), name="api-experiment-start"),
    path(f"{_ONE}pause/", api.ExperimentPauseView.as_view(), name="api-experiment-pause"),
    path(f"{_ONE}abort/", api.ExperimentAbortView.as_view(), name="api-experiment-abort"),
    path(f"{_ONE}conclude/", api.ExperimentConcludeView.as_view(), name="api-experiment-conclude"),
    path(f"{_ONE}feedback/", api.ExperimentFeedbackView.as_view(), name="api-experiment-feedback"),
    path(
        f"{_ONE}feedback/csv/",
        api.ExperimentFeedbackCsvView.as_view(),
        name="api-experiment-feedback-csv",
    ),
    path(f"{_ONE}results/", api.ExperimentResultsView.as_view(), name="api-experiment-results"),
]
