"""Deploying a model (POST on the deployments list), deleting one (DELETE on its detail) and
its warnings (GET .../deployments/{name}/warnings/).

Mixed into the list and detail views of `deployments.api` so the routes stay the cluster's.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from controlplane.api.responses import accepted_response
from controlplane.api.views import KubeObjectAPIView
from controlplane.clusters.selectors import cluster_get

from ..deploy_serializers import (
    DeleteRequestSerializer,
    DeployAcceptedSerializer,
    DeployPreviewSerializer,
    DeployRequestSerializer,
    WarningsSerializer,
)
from ..services.deploy import deploy_validate, deployment_create, deployment_delete
from ..services.deploy import deployment_preview as preview
from ..warnings import deploy_warnings, deployment_warnings


class DeployMixin:
    @extend_schema(
        request=DeployRequestSerializer,
        responses={202: DeployAcceptedSerializer, 200: DeployPreviewSerializer},
        description=(
            "Deploy a model: a Deployment and (unless `service` is null) a Service with the "
            "same name, labels app.kubernetes.io/name=<name> and model.mlcp.io/name|version. "
            "With `dry_run: true` nothing is created: the answer (200) previews both objects "
            "with the warnings."
        ),
    )
    def post(self, request, cluster, namespace):
        obj = cluster_get(name=cluster, user=request.user)
        data = request.data
        if isinstance(data, dict) and data.get("dry_run") not in (None, False):
            deployment, service = preview(
                actor=request.user, cluster=obj, namespace=namespace, spec=data
            )
            warnings, _source = deploy_warnings(
                cluster=obj, namespace=namespace, spec=deploy_validate(spec=data), live=True
            )
            body = {"warnings": warnings, "deployment": deployment, "service": service}
            return Response(DeployPreviewSerializer(body).data)
        event = deployment_create(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            spec=data,
            request_id=request.request_id,
        )
        # From the watcher's cache only: a request does no cluster I/O.
        warnings, _source = deploy_warnings(
            cluster=obj, namespace=namespace, spec=event.parameters, live=False
        )
        return accepted_response(event, warnings=warnings)


_DELETE_PARAMETERS = [
    OpenApiParameter(
        "cascade",
        OpenApiTypes.STR,
        description="comma-separated: services (the Services selecting this deployment's pods), "
        'autoscaler (HPAs targeting it); a JSON body {"cascade": "services"} works too',
    ),
    OpenApiParameter(
        "propagation",
        OpenApiTypes.STR,
        enum=["Background", "Foreground"],
        description="the deletion propagation policy (default Background)",
    ),
]


def _delete_options(request) -> object:
    """The JSON body when there is one, else the query string's cascade and propagation."""
    data = request.data
    if hasattr(data, "dict"):  # a QueryDict: form-encoded or no body at all
        data = data.dict()
    if data not in (None, {}, ""):
        return data
    return {
        k: request.query_params[k] for k in ("cascade", "propagation") if k in request.query_params
    }


class DeleteMixin:
    @extend_schema(
        parameters=_DELETE_PARAMETERS,
        request=DeleteRequestSerializer,
        responses={202: DeployAcceptedSerializer},
    )
    def delete(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        options = _delete_options(request)
        event = deployment_delete(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            options=options,
            request_id=request.request_id,
        )
        return accepted_response(event, warnings=[])


class DeploymentWarningsView(KubeObjectAPIView):
    @extend_schema(responses=WarningsSerializer)
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        body = deployment_warnings(user=request.user, cluster=obj, namespace=namespace, name=name)
        return Response(WarningsSerializer(body).data)
