from django.urls import path

from . import views

app_name = "deployments"

urlpatterns = [
    path("c/<slug:cluster>/deployments/", views.index, name="index"),
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/",
        views.deployment_list,
        name="list",
    ),
    # Partial routes carry "_", which no Kubernetes name may contain, so they can never
    # shadow a deployment's page (a deployment may well be named "table").
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/_table/",
        views.deployment_rows_view,
        name="table",
    ),
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/_row/<str:name>/",
        views.deployment_row_view,
        name="row",
    ),
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/<str:name>/scale/",
        views.deployment_scale_view,
        name="scale",
    ),
]

from .views_autoscale import deployment_autoscaler_view  # noqa: E402

urlpatterns.append(
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/<str:name>/autoscaler/",
        deployment_autoscaler_view,
        name="autoscaler",
    )
)

from .views_deploy import delete_view, deploy_view  # noqa: E402

urlpatterns.append(
    path("c/<slug:cluster>/ns/<slug:namespace>/deploy/", deploy_view, name="deploy"),
)
urlpatterns.append(
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/<str:name>/delete/",
        delete_view,
        name="delete",
    ),
)

from .views_detail import (  # noqa: E402
    deployment_action_view,
    deployment_all_table_view,
    deployment_all_view,
    deployment_detail_body_view,
    deployment_detail_view,
)

urlpatterns += [
    path("c/<slug:cluster>/deployments/all/", deployment_all_view, name="all"),
    path("c/<slug:cluster>/deployments/all/table/", deployment_all_table_view, name="all_table"),
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/<str:name>/",
        deployment_detail_view,
        name="detail",
    ),
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/<str:name>/body/",
        deployment_detail_body_view,
        name="detail_body",
    ),
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/<str:name>/do/<slug:verb>/",
        deployment_action_view,
        name="action",
    ),
]

from .views_apply import apply_view  # noqa: E402

urlpatterns.append(path("c/<slug:cluster>/ns/<slug:namespace>/apply/", apply_view, name="apply"))

from .views_rollout import rollout_view  # noqa: E402
from .views_search import search_view  # noqa: E402

urlpatterns += [
    path(
        "c/<slug:cluster>/ns/<slug:namespace>/deployments/<str:name>/rollout/",
        rollout_view,
        name="rollout",
    ),
    path("c/<slug:cluster>/search/", search_view, name="search"),
]
