"""/api/v1/ routes of the audit app (included by controlplane/urls.py)."""

from django.urls import path

from .api import ActionDetailView, AuditListView

urlpatterns = [
    path("actions/<uuid:pk>/", ActionDetailView.as_view(), name="api-action-detail"),
    path("audit/", AuditListView.as_view(), name="api-audit-list"),
]
