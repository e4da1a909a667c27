"""/api/v1/clusters/{cluster}/namespaces/{ns}/deployments/...: read through the kube layer;
deploy, delete (api/deploy.py) and scale through the action pipeline (202 + the action's URL)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from controlplane.api.views import KubeObjectAPIView
from controlplane.audit.serializers import accepted_body
from controlplane.clusters.selectors import cluster_get

from .. import selectors, services
from ..serializers import DeploymentSerializer, ScaleRequestSerializer, deployment_summarize
from ..serializers_autoscale import ScaleAcceptedSerializer
from ..services.autoscale import deployment_scale_warnings
from .deploy import DeleteMixin, DeployMixin


class DeploymentListView(DeployMixin, KubeObjectAPIView):
    @extend_schema(responses=DeploymentSerializer(many=True))
    def get(self, request, cluster, namespace):
        obj = cluster_get(name=cluster, user=request.user)
        items = selectors.deployment_list(user=request.user, cluster=obj, namespace=namespace)
        return Response([deployment_summarize(deployment=item) for item in items])


class DeploymentDetailView(DeleteMixin, KubeObjectAPIView):
    @extend_schema(responses=DeploymentSerializer)
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        item = selectors.deployment_get(
            user=request.user, cluster=obj, namespace=namespace, name=name
        )
        return Response(deployment_summarize(deployment=item))


class DeploymentScaleView(KubeObjectAPIView):
    @extend_schema(request=ScaleRequestSerializer, responses={202: ScaleAcceptedSerializer})
    def post(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        # Absent is refused as "required" (and audited), like any other bad value.
        data = request.data if isinstance(request.data, dict) else {}
        replicas = data.get("replicas", services.MISSING)
        event = services.deployment_scale(
            actor=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            replicas=replicas,
            request_id=request.request_id,
        )
        body = accepted_body(event)
        # An autoscaler managing the deployment will override this count: say so.
        body["warnings"] = deployment_scale_warnings(cluster=obj, namespace=namespace, name=name)
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
