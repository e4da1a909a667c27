"""/api/v1/clusters/: list, add (from a kubeconfig, in-cluster, sandbox), show, edit, remove,
test. Role checks happen in the services and selectors."""

from dataclasses import asdict

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .kubeconfig import parse_kubeconfig
from .models import ClusterSource
from .selectors import cluster_get, cluster_list
from .serializers import (
    ClusterCreateSerializer,
    ClusterSerializer,
    ClusterUpdateSerializer,
    ConnectionTestSerializer,
    KubeconfigPreviewRequestSerializer,
    KubeconfigPreviewSerializer,
)


class ClusterListView(APIView):
    @extend_schema(responses=ClusterSerializer(many=True))
    def get(self, request):
        clusters = cluster_list(user=request.user)
        return Response(ClusterSerializer(clusters, many=True, context={"request": request}).data)

    @extend_schema(request=ClusterCreateSerializer, responses={201: ClusterSerializer})
    def post(self, request):
        form = ClusterCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        source = data["source"]
        common = {
            "actor": request.user,
            "name": data["name"],
            "display_name": data.get("display_name", ""),
        }
        if source == ClusterSource.KUBECONFIG:
            cluster = services.cluster_create_from_kubeconfig(
                **common,
                kubeconfig=data["kubeconfig"],
                context=data.get("context") or None,
                request_id=request.request_id,
            )
        elif source == ClusterSource.IN_CLUSTER:
            cluster = services.cluster_create_in_cluster(**common, request_id=request.request_id)
        else:
            cluster = services.cluster_create_sandbox(**common, request_id=request.request_id)
        body = ClusterSerializer(cluster, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class KubeconfigPreviewView(APIView):
    @extend_schema(
        request=KubeconfigPreviewRequestSerializer, responses=KubeconfigPreviewSerializer
    )
    def post(self, request):
        if not request.user.is_superuser:
            raise PermissionDenied("Only superusers may add clusters.")
        form = KubeconfigPreviewRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        config = parse_kubeconfig(form.validated_data["kubeconfig"])
        return Response(
            {
                "current_context": config.current_context,
                "contexts": [asdict(context) for context in config.contexts],
            }
        )


class ClusterDetailView(APIView):
    @extend_schema(responses=ClusterSerializer)
    def get(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        return Response(ClusterSerializer(obj, context={"request": request}).data)

    @extend_schema(request=ClusterUpdateSerializer, responses=ClusterSerializer)
    def patch(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        form = ClusterUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        obj = services.cluster_update(
            actor=request.user,
            cluster=obj,
            display_name=data.get("display_name"),
            # A form-encoded body without the box reads as False; only a sent value counts.
            logs_for_viewers=(
                data.get("logs_for_viewers") if "logs_for_viewers" in request.data else None
            ),
            kubeconfig=data.get("kubeconfig"),
            context=data.get("context") or None,
            request_id=request.request_id,
        )
        return Response(ClusterSerializer(obj, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        services.cluster_delete(actor=request.user, cluster=obj, request_id=request.request_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClusterTestView(APIView):
    @extend_schema(request=None, responses=ConnectionTestSerializer)
    def post(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        return Response(services.cluster_test(actor=request.user, cluster=obj))
