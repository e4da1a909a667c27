"""GET .../deployments/{name}/metrics/, .../pods/{pod}/metrics/ and /nodes/{node}/metrics/."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from controlplane.api.views import KubeObjectAPIView
from controlplane.clusters.selectors import cluster_get

from .selectors import metrics_deployment_get, metrics_node_get, metrics_pod_get
from .serializers import MetricsSerializer, NodeMetricsSerializer

WINDOW = OpenApiParameter(
    "window",
    str,
    description="15m, 1h (default), 6h, 24h: a number and m, h or d, up to the retention",
)


class DeploymentMetricsView(KubeObjectAPIView):
    @extend_schema(parameters=[WINDOW], responses=MetricsSerializer)
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        body = metrics_deployment_get(
            user=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            window=request.query_params.get("window"),
        )
        return Response(MetricsSerializer(body).data)


class PodMetricsView(KubeObjectAPIView):
    @extend_schema(parameters=[WINDOW], responses=MetricsSerializer)
    def get(self, request, cluster, namespace, name):
        obj = cluster_get(name=cluster, user=request.user)
        body = metrics_pod_get(
            user=request.user,
            cluster=obj,
            namespace=namespace,
            name=name,
            window=request.query_params.get("window"),
        )
        return Response(MetricsSerializer(body).data)


class NodeMetricsView(KubeObjectAPIView):
    @extend_schema(parameters=[WINDOW], responses=NodeMetricsSerializer)
    def get(self, request, cluster, name):
        obj = cluster_get(name=cluster, user=request.user)
        body = metrics_node_get(
            user=request.user, cluster=obj, name=name, window=request.query_params.get("window")
        )
        return Response(NodeMetricsSerializer(body).data)
