from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Each app owns its /api/v1/ routes; the project only mounts them.
    path("api/v1/", include("controlplane.clusters.api_urls")),
    path("api/v1/", include("controlplane.accounts.api_urls")),
    path("api/v1/", include("controlplane.audit.api_urls")),
    path("api/v1/", include("deployments.api_urls")),
    path("api/v1/", include("deployments.metrics.api_urls")),
    path("api/v1/", include("trainer.api_urls")),
    path("api/v1/", include("experiments.api_urls")),
    path("api/v1/", include("controlplane.gke.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("controlplane.accounts.urls")),
    path("clusters/", include("controlplane.clusters.urls")),
    path("audit/", include("controlplane.audit.urls")),
    path("gke/", include("controlplane.gke.urls")),
    path("", include("deployments.metrics.urls")),
    path("", include("deployments.logs.urls")),
    path("", include("deployments.urls")),
    path("", include("trainer.urls")),
    path("", include("experiments.urls")),
    path("", include("controlplane.dashboard.urls")),
]
