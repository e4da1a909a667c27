"""/api/v1/gke/...: credentials per project, and the project's clusters, node pools and
operations as Google reports them; every change answers 202 with its action."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.responses import accepted_response, request_object
from controlplane.audit.serializers import AcceptedSerializer

from . import selectors, services
from .errors import GkeError, GkeUnavailable
from .serializers import (
    CredentialCreateSerializer,
    CredentialSerializer,
    GkeClusterCreateSerializer,
    GkeClusterSerializer,
    NodePoolAutoscalingSerializer,
    NodePoolCreateSerializer,
    NodePoolSerializer,
    NodePoolSizeSerializer,
    OperationSerializer,
)

M = services.MISSING


class GkeAPIView(APIView):
    """Google's refusals keep its status and words: 404 and 409 as they are, a refused
    credential or an unreachable API as 502/503 (the caller's own request was fine)."""

    def handle_exception(self, exc):
        if isinstance(exc, GkeUnavailable):
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        if isinstance(exc, GkeError):
            code = exc.code if exc.code in (400, 404, 409) else status.HTTP_502_BAD_GATEWAY
            return Response({"detail": exc.message, "google_status": exc.status}, status=code)
        return super().handle_exception(exc)

    def credential(self, request, project):
        verb = {"GET": "view", "DELETE": "delete"}.get(request.method, "change")
        return selectors.credential_get(user=request.user, project=project, verb=verb)


class CredentialListView(GkeAPIView):
    @extend_schema(responses=CredentialSerializer(many=True))
    def get(self, request):
        items = selectors.credential_list(user=request.user)
        return Response(CredentialSerializer(items, many=True).data)

    @extend_schema(request=CredentialCreateSerializer, responses={201: CredentialSerializer})
    def post(self, request):
        data = request_object(request)
        credential = services.gke_credential_create(
            actor=request.user,
            project=data.get("project"),
            key=data.get("key"),
            endpoint=data.get("endpoint", settings.GKE_DEFAULT_ENDPOINT),
            request_id=request.request_id,
        )
        return Response(CredentialSerializer(credential).data, status=status.HTTP_201_CREATED)


class CredentialDetailView(GkeAPIView):
    @extend_schema(responses=CredentialSerializer)
    def get(self, request, project):
        return Response(CredentialSerializer(self.credential(request, project)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, project):
        credential = self.credential(request, project)
        services.gke_credential_delete(
            actor=request.user, credential=credential, request_id=request.request_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClusterListView(GkeAPIView):
    @extend_schema(responses=GkeClusterSerializer(many=True))
    def get(self, request, project, location):
        credential = self.credential(request, project)
        items = selectors.gke_clusters_list(credential=credential, location=location)
        return Response(GkeClusterSerializer(items, many=True).data)

    @extend_schema(request=GkeClusterCreateSerializer, responses={202: AcceptedSerializer})
    def post(self, request, project, location):
        credential = self.credential(request, project)
        data = request_object(request)
        event = services.gke_cluster_create(
            actor=request.user,
            credential=credential,
            location=location,
            name=data.get("name"),
            node_count=data.get("node_count", 3),
            machine_type=data.get("machine_type", "e2-medium"),
            release_channel=data.get("release_channel", "REGULAR"),
            autoscaling=data.get("autoscaling"),
            workload_identity=data.get("workload_identity", False),
            request_id=request.request_id,
        )
        return accepted_response(event)


class ClusterDetailView(GkeAPIView):
    @extend_schema(responses=GkeClusterSerializer)
    def get(self, request, project, location, name):
        credential = self.credential(request, project)
        item = selectors.gke_cluster_get(credential=credential, location=location, name=name)
        return Response(GkeClusterSerializer(item).data)

    @extend_schema(responses={202: AcceptedSerializer})
    def delete(self, request, project, location, name):
        event = services.gke_cluster_delete(
            actor=request.user,
            credential=self.credential(request, project),
            location=location,
            name=name,
            request_id=request.request_id,
        )
        return accepted_response(event)


class NodePoolListView(GkeAPIView):
    @extend_schema(responses=NodePoolSerializer(many=True))
    def get(self, request, project, location, name):
        credential = self.credential(request, project)
        item = selectors.gke_cluster_get(credential=credential, location=location, name=name)
        return Response(NodePoolSerializer(item.get("nodePools", []), many=True).data)

    @extend_schema(request=NodePoolCreateSerializer, responses={202: AcceptedSerializer})
    def post(self, request, project, location, name):
        data = request_object(request)
        event = services.gke_nodepool_create(
            actor=request.user,
            credential=self.credential(request, project),
            location=location,
            cluster=name,
            name=data.get("name"),
            node_count=data.get("node_count", 1),
            machine_type=data.get("machine_type", "e2-medium"),
            accelerator_type=data.get("accelerator_type", ""),
            accelerator_count=data.get("accelerator_count", 1),
            gpu_driver=data.get("gpu_driver", "DEFAULT"),
            autoscaling=data.get("autoscaling"),
            request_id=request.request_id,
        )
        return accepted_response(event)


class NodePoolDetailView(GkeAPIView):
    @extend_schema(responses=NodePoolSerializer)
    def get(self, request, project, location, name, pool):
        credential = self.credential(request, project)
        item = selectors.gke_cluster_get(credential=credential, location=location, name=name)
        for found in item.get("nodePools", []):
            if found.get("name") == pool:
                return Response(NodePoolSerializer(found).data)
        path = f"projects/{project}/locations/{location}/clusters/{name}/nodePools/{pool}"
        raise GkeError(f"Not found: {path}.", code=404, status="NOT_FOUND")

    @extend_schema(responses={202: AcceptedSerializer})
    def delete(self, request, project, location, name, pool):
        event = services.gke_nodepool_delete(
            actor=request.user,
            credential=self.credential(request, project),
            location=location,
            cluster=name,
            pool=pool,
            request_id=request.request_id,
        )
        return accepted_response(event)


class NodePoolSizeView(GkeAPIView):
    @extend_schema(request=NodePoolSizeSerializer, responses={202: AcceptedSerializer})
    def post(self, request, project, location, name, pool):
        event = services.gke_nodepool_resize(
            actor=request.user,
            credential=self.credential(request, project),
            location=location,
            cluster=name,
            pool=pool,
            node_count=request_object(request).get("node_count", M),
            request_id=request.request_id,
        )
        return accepted_response(event)


class NodePoolAutoscalingView(GkeAPIView):
    @extend_schema(request=NodePoolAutoscalingSerializer, responses={202: AcceptedSerializer})
    def post(self, request, project, location, name, pool):
        data = request_object(request)
        event = services.gke_nodepool_autoscale(
            actor=request.user,
            credential=self.credential(request, project),
            location=location,
            cluster=name,
            pool=pool,
            enabled=data.get("enabled", M),
            min_node_count=data.get("min_node_count", 0),
            max_node_count=data.get("max_node_count", M),
            request_id=request.request_id,
        )
        return accepted_response(event)


class OperationListView(GkeAPIView):
    @extend_schema(responses=OperationSerializer(many=True))
    def get(self, request, project, location):
        credential = self.credential(request, project)
        items = selectors.gke_operations_list(credential=credential, location=location)
        return Response(OperationSerializer(items, many=True).data)
