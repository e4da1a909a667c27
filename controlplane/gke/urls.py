"""GKE pages, under /gke/."""

from django.urls import path

from . import views, views_nodepools

app_name = "gke"

_LOC = "<str:project>/<str:location>/"
_CLUSTER = _LOC + "clusters/<str:name>/"
_POOL = _CLUSTER + "nodepools/<str:pool>/"

urlpatterns = [
    path("", views.index, name="index"),
    path("credentials/add/", views.credential_add, name="credential_add"),
    path("credentials/<str:project>/remove/", views.credential_remove, name="credential_remove"),
    # From a page about a registered cluster (a training Job waiting for GPUs): the pool form
    # of the GKE cluster behind it, query parameters (accelerator, count) kept.
    path(
        "for/<slug:cluster>/nodepools/create/",
        views_nodepools.nodepool_create_for,
        name="nodepool_create_for",
    ),
    path(_LOC, views.clusters, name="clusters"),
    path(_LOC + "create/", views.cluster_create, name="cluster_create"),
    path(_LOC + "operations/", views.operations_section, name="operations"),
    path(_LOC + "clusters/", views.clusters_section, name="clusters_section"),
    path(_CLUSTER, views.cluster_detail, name="cluster"),
    path(_CLUSTER + "section/", views.cluster_section, name="cluster_section"),
    path(_CLUSTER + "delete/", views.cluster_delete, name="cluster_delete"),
    path(_CLUSTER + "nodepools/create/", views_nodepools.nodepool_create, name="nodepool_create"),
    path(_POOL + "size/", views_nodepools.nodepool_resize, name="nodepool_resize"),
    path(_POOL + "autoscaling/", views_nodepools.nodepool_autoscaling, name="nodepool_autoscaling"),
    path(_POOL + "delete/", views_nodepools.nodepool_delete, name="nodepool_delete"),
]
