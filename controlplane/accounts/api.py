"""/api/v1/clusters/{cluster}/grants/: who holds which role on a cluster (admins only)."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.clusters.selectors import cluster_get

from .roles import Role
from .selectors import role_grant_get, role_grant_list, user_can
from .services import role_grant_delete, role_grant_set


class RoleGrantSerializer(serializers.Serializer):
    user = serializers.CharField(source="user.username")
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices())
    namespaces = serializers.ListField(child=serializers.CharField(), required=False)
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)


class RoleGrantWriteSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150)
    # Checked by the service, so an unknown role is audited like any other refused change.
    role = serializers.CharField(max_length=20, help_text="viewer, operator, engineer or admin")
    namespaces = serializers.ListField(child=serializers.CharField(), required=False)


def _require_manage_roles(request, cluster) -> None:
    if not user_can(user=request.user, permission="manage_roles", cluster=cluster):
        raise PermissionDenied("Only admins of this cluster may see or change its role grants.")


class RoleGrantListView(APIView):
    @extend_schema(responses=RoleGrantSerializer(many=True))
    def get(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        _require_manage_roles(request, obj)
        return Response(RoleGrantSerializer(role_grant_list(cluster=obj), many=True).data)

    @extend_schema(request=RoleGrantWriteSerializer, responses={201: RoleGrantSerializer})
    def post(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        form = RoleGrantWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        grant = role_grant_set(
            actor=request.user,
            cluster=obj,
            username=form.validated_data["user"],
            role=form.validated_data["role"],
            namespaces=form.validated_data.get("namespaces") or [],
            request_id=request.request_id,
        )
        return Response(RoleGrantSerializer(grant).data, status=status.HTTP_201_CREATED)


class RoleGrantDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, cluster, username):
        obj = cluster_get(name=cluster, user=request.user)
        _require_manage_roles(request, obj)
        grant = role_grant_get(cluster=obj, username=username)
        role_grant_delete(actor=request.user, grant=grant, request_id=request.request_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
