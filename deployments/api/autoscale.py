"""/api/v1/clusters/{c}/namespaces/{ns}/deployments/{name}/autoscaler/: GET the HPA described
(current against target, conditions, events, explanations); PUT and DELETE are actions."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from controlplane.api.responses import accepted_response
from controlplane.api.views import KubeObjectAPIView
from controlplane.clusters.selectors import cluster_get

from ..selectors_autoscale import autoscaler_get
from ..serializers_autoscale import (
    AutoscalerAcceptedSerializer,
    AutoscalerRequestSerializer,
    AutoscalerSerializer,
    autoscaler_serialize,
)
from ..services.autoscale import deployment_autoscaler_delete, deployment_autoscaler_set


class DeploymentAutoscalerView(KubeObjectAPIView):
    @extend_schema(responses=AutoscalerSerializer)
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        described = autoscaler_get(user=request.user, cluster=obj, namespace=namespace, name=name)
        return Response(autoscaler_serialize(described=described))

    @extend_schema(
        request=AutoscalerRequestSerializer, responses={202: AutoscalerAcceptedSerializer}
    )
    def put(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        event, warnings = deployment_autoscaler_set(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            data=request.data,
            request_id=request.request_id,
        )
        return accepted_response(event, warnings=warnings or [])

    @extend_schema(request=None, responses={202: AutoscalerAcceptedSerializer})
    def delete(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        event = deployment_autoscaler_delete(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            request_id=request.request_id,
        )
        return accepted_response(event, warnings=[])
