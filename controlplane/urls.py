from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("controlplane.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("controlplane.accounts.urls")),
    path("clusters/", include("controlplane.clusters.urls")),
    path("audit/", include("controlplane.audit.urls")),
    path("", include("deployments.urls")),
    path("", include("controlplane.dashboard.urls")),
]
