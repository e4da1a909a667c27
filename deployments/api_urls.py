"""/api/v1/ routes of the deployments app (included by controlplane/urls.py)."""

from django.urls import path

from .api import (
    DeploymentAllListView,
    DeploymentDetailView,
    DeploymentListView,
    DeploymentScaleView,
)

_BASE = "clusters/<slug:cluster>/namespaces/<slug:namespace>/deployments/"

urlpatterns = [
    path(
        "clusters/<slug:cluster>/deployments/",
        DeploymentAllListView.as_view(),
        name="api-deployment-list-all",
    ),
    path(_BASE, DeploymentListView.as_view(), name="api-deployment-list"),
    path(f"{_BASE}<str:name>/", DeploymentDetailView.as_view(), name="api-deployment-detail"),
    path(f"{_BASE}<str:name>/scale/", DeploymentScaleView.as_view(), name="api-deployment-scale"),
]

from .api.deploy import DeploymentWarningsView  # noqa: E402

urlpatterns.append(
    path(
        f"{_BASE}<str:name>/warnings/",
        DeploymentWarningsView.as_view(),
        name="api-deployment-warnings",
    )
)


from .api.autoscale import DeploymentAutoscalerView  # noqa: E402

urlpatterns.append(
    path(
        f"{_BASE}<str:name>/autoscaler/",
        DeploymentAutoscalerView.as_view(),
        name="api-deployment-autoscaler",
    )
)

from .api import rollout  # noqa: E402

urlpatterns += [
    path(
        f"{_BASE}<str:name>/rollout/",
        rollout.DeploymentRolloutView.as_view(),
        name="api-deployment-rollout",
    ),
    path(
        f"{_BASE}<str:name>/rollout/pause/",
        rollout.DeploymentRolloutPauseView.as_view(),
        name="api-deployment-rollout-pause",
    ),
    path(
        f"{_BASE}<str:name>/rollout/resume/",
        rollout.DeploymentRolloutResumeView.as_view(),
        name="api-deployment-rollout-resume",
    ),
    path(
        f"{_BASE}<str:name>/rollout/restart/",
        rollout.DeploymentRolloutRestartView.as_view(),
        name="api-deployment-rollout-restart",
    ),
    path(
        f"{_BASE}<str:name>/rollback/",
        rollout.DeploymentRollbackView.as_view(),
        name="api-deployment-rollback",
    ),
    path(
        f"{_BASE}<str:name>/revisions/",
        rollout.DeploymentRevisionListView.as_view(),
        name="api-deployment-revisions",
    ),
    path(
        f"{_BASE}<str:name>/revisions/<int:left>/diff/<int:right>/",
        rollout.DeploymentRevisionDiffView.as_view(),
        name="api-deployment-revision-diff",
    ),
]

from .api.apply import ApplyView  # noqa: E402

urlpatterns.append(path("clusters/<slug:cluster>/apply/", ApplyView.as_view(), name="api-apply"))

from .logs.api import PodLogView  # noqa: E402

urlpatterns.append(
    path(
        "clusters/<slug:cluster>/namespaces/<slug:namespace>/pods/<str:name>/log/",
        PodLogView.as_view(),
        name="api-pod-log",
    )
)
