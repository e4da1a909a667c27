from django.urls import path

from . import views

urlpatterns = [
    path("", views.cluster_index, name="cluster-list"),
    path("add/", views.cluster_add, name="cluster-add"),
    path("add/save/", views.cluster_add_save, name="cluster-add-save"),
    path("add/other/", views.cluster_add_other, name="cluster-add-other"),
    path("<slug:cluster>/", views.cluster_detail, name="cluster-detail"),
    path("<slug:cluster>/test/", views.cluster_test, name="cluster-test"),
    path("<slug:cluster>/edit/", views.cluster_edit, name="cluster-edit"),
    path("<slug:cluster>/remove/", views.cluster_remove, name="cluster-remove"),
]
