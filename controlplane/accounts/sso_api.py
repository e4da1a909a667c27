"""/api/v1/clusters/{cluster}/group-mappings/: which single sign-on groups give which role on
a cluster (admins of the cluster only; every change audited)."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.audit.services import action_refuse
from controlplane.clusters.selectors import cluster_get

from .roles import Role
from .selectors import group_mapping_get, group_mapping_list, user_can
from .services import group_mapping_create, group_mapping_delete
from .services.grants import GRANT_NAMESPACES_MAX
from .services.group_mappings import GROUP_LENGTH_MAX


class GroupMappingSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    group = serializers.CharField()
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices())
    namespaces = serializers.ListField(child=serializers.CharField())
    created = serializers.DateTimeField(read_only=True)


class GroupMappingWriteSerializer(serializers.Serializer):
    group = serializers.CharField(max_length=GROUP_LENGTH_MAX, help_text="The provider's group")
    # Checked by the service, so an unknown role is audited like any other refused change.
    role = serializers.CharField(max_length=20, help_text="viewer, operator, engineer or admin")
    namespaces = serializers.ListField(
        child=serializers.CharField(max_length=63),
        max_length=GRANT_NAMESPACES_MAX,
        required=False,
        help_text="Leave out for the whole cluster.",
    )


def _require_manage_roles(request, cluster, *, verb: str, name: str) -> None:
    if user_can(user=request.user, permission="manage_roles", cluster=cluster):
        return
    if request.method == "GET":
        raise PermissionDenied("Only admins of this cluster may see its group mappings.")
    raise action_refuse(
        actor=request.user,
        cluster=cluster,
        namespace=None,
        kind="groupmapping",
        name=name[:255],
        verb=verb,
        permission="manage_roles",
        parameters={"group" if verb == "create" else "id": name[:255]},
        request_id=request.request_id,
    )


class GroupMappingListView(APIView):
    @extend_schema(responses=GroupMappingSerializer(many=True))
    def get(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        _require_manage_roles(request, obj, verb="list", name="")
        return Response(GroupMappingSerializer(group_mapping_list(cluster=obj), many=True).data)

    @extend_schema(request=GroupMappingWriteSerializer, responses={201: GroupMappingSerializer})
    def post(self, request, cluster):
        obj = cluster_get(name=cluster, user=request.user)
        _require_manage_roles(request, obj, verb="create", name=str(request.data.get("group", "")))
        form = GroupMappingWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        mapping = group_mapping_create(
            actor=request.user,
            cluster=obj,
            group=form.validated_data["group"],
            role=form.validated_data["role"],
            namespaces=form.validated_data.get("namespaces") or [],
            request_id=request.request_id,
        )
        return Response(GroupMappingSerializer(mapping).data, status=status.HTTP_201_CREATED)


class GroupMappingDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, cluster, mapping_id):
        obj = cluster_get(name=cluster, user=request.user)
        _require_manage_roles(request, obj, verb="delete", name=str(mapping_id))
        mapping = group_mapping_get(cluster=obj, mapping_id=mapping_id)
        group_mapping_delete(actor=request.user, mapping=mapping, request_id=request.request_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
