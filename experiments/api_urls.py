"""/api/v1/ routes of the experiments app (included by controlplane/urls.py)."""

urlpatterns: list = []
