"""Pages of the experiments app."""

from django.urls import path

from . import views

app_name = "experiments"

_NS = "c/<slug:cluster>/ns/<slug:namespace>/experiments/"

urlpatterns = [
    path("experiments/", views.index, name="index"),
    path(_NS, views.experiment_list, name="list"),
    path(f"{_NS}<str:name>/", views.experiment_detail, name="detail"),
    path(f"{_NS}<str:name>/results.csv", views.results_csv, name="results-csv"),
    path(f"{_NS}<str:name>/<str:step>/", views.experiment_step, name="step"),
]
