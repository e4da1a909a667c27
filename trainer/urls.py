from django.urls import path

from . import views

app_name = "trainer"

_NS = "c/<slug:cluster>/ns/<slug:namespace>/training/"

urlpatterns = [
    # The navigation's "Training" entry links here when this path exists.
    path("training/", views.index, name="index"),
    path(_NS, views.run_list, name="list"),
    path(f"{_NS}table/", views.run_table, name="table"),
    path(f"{_NS}launch/", views.launch_view, name="launch"),
    path(f"{_NS}<int:run_id>/", views.run_detail, name="detail"),
    path(f"{_NS}<int:run_id>/body/", views.run_detail_body, name="detail_body"),
    path(f"{_NS}<int:run_id>/do/<slug:verb>/", views.run_action, name="action"),
]
