"""/api/v1/clusters/{cluster}/namespaces/{ns}/deployments/...: read through the kube layer;
scale through the action pipeline (202 + the action's URL)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.serializers import AcceptedSerializer, accepted_body
from controlplane.clusters.selectors import cluster_get

from . import selectors, services
from .serializers import DeploymentSerializer, ScaleRequestSerializer


class DeploymentListView(APIView):
    @extend_schema(responses=DeploymentSerializer(many=True))
    def get(self, request, cluster, namespace):
        obj = cluster_get(name=cluster, user=request.user)
        items = selectors.deployment_list(user=request.user, cluster=obj, namespace=namespace)
        return Response([selectors.deployment_summarize(deployment=item) for item in items])


class DeploymentDetailView(APIView):
    @extend_schema(responses=DeploymentSerializer)
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        item = selectors.deployment_get(
            user=request.user, cluster=obj, namespace=namespace, name=name
        )
        return Response(selectors.deployment_summarize(deployment=item))


class DeploymentScaleView(APIView):
    @extend_schema(request=ScaleRequestSerializer, responses={202: AcceptedSerializer})
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        if not isinstance(request.data, dict) or "replicas" not in request.data:
            # Absent is audited as invalid too, like any other bad value.
            replicas = None
        else:
            replicas = request.data["replicas"]
        event = services.deployment_scale(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            replicas=replicas,
            request_id=request.request_id,
        )
        body = accepted_body(event)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
