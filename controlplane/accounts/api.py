"""/api/v1/clusters/{cluster}/grants/: who holds which role on a cluster (admins only);
/api/v1/users/: people (superusers and cluster admins); /api/v1/tokens/: API tokens."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.clusters.models import Cluster
from controlplane.clusters.selectors import cluster_get

from .roles import Role
from .selectors import (
    api_token_get,
    api_token_list,
    role_grant_get,
    role_grant_list,
    user_can,
    user_can_manage_users,
    user_get,
    user_list,
    user_manages,
)
from .services import (
    api_token_create,
    api_token_revoke,
    role_grant_delete,
    role_grant_set,
    user_create,
    user_deactivate,
    user_password_link_issue,
    user_reactivate,
)
from .services.grants import GRANT_NAMESPACES_MAX


class RoleGrantSerializer(serializers.Serializer):
    user = serializers.CharField(source="user.username")
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices())
    namespaces = serializers.ListField(child=serializers.CharField(), required=False)
    # A plain string: a choice field named "source" would collide with the cluster's enum.
    source = serializers.CharField(
        read_only=True,
        help_text="manual: given by hand; group: from SSO groups at the user's last sign-in.",
    )
    created = serializers.DateTimeField(read_only=True)
    updated = serializers.DateTimeField(read_only=True)


class RoleGrantWriteSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150)
    # Checked by the service, so an unknown role is audited like any other refused change.
    role = serializers.CharField(max_length=20, help_text="viewer, operator, engineer or admin")
    namespaces = serializers.ListField(
        child=serializers.CharField(max_length=63),
        max_length=GRANT_NAMESPACES_MAX,
        required=False,
        error_messages={
            "max_length": "At most {max_length} namespaces per grant; leave namespaces empty "
            "to grant the role on the whole cluster."
        },
    )


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


# --- /api/v1/users/ ---------------------------------------------------------------------------


class UserRoleSerializer(serializers.Serializer):
    cluster = serializers.CharField(source="cluster.name")
    role = serializers.ChoiceField(choices=Role.choices())
    namespaces = serializers.ListField(child=serializers.CharField())


class UserSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.CharField()
    is_active = serializers.BooleanField()
    is_superuser = serializers.BooleanField()
    date_joined = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)
    roles = UserRoleSerializer(
        many=True,
        source="visible_grants",
        help_text="Roles on the clusters the caller administers (all, for superusers).",
    )


class UserCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    cluster = serializers.SlugField(
        required=False, help_text="With role: a first role grant on this cluster."
    )
    role = serializers.ChoiceField(choices=Role.choices(), required=False)
    namespaces = serializers.ListField(child=serializers.CharField(), required=False)

    def validate(self, attrs):
        if ("cluster" in attrs) != ("role" in attrs):
            missing = "role" if "cluster" in attrs else "cluster"
            raise serializers.ValidationError({missing: ["Give both a cluster and a role."]})
        return attrs


class UserCreatedSerializer(UserSerializer):
    password_link = serializers.CharField(
        help_text="One-time link with which the user sets their password. Shown only here."
    )
    password_link_expires = serializers.DateTimeField()


class UserUpdateSerializer(serializers.Serializer):
    is_active = serializers.BooleanField(
        help_text="false deactivates (sessions end, API tokens are revoked); true reactivates."
    )


class PasswordLinkSerializer(serializers.Serializer):
    password_link = serializers.CharField(source="url")
    password_link_expires = serializers.DateTimeField(source="expires")


def _require_user_admin(request) -> None:
    if not user_can_manage_users(user=request.user):
        raise PermissionDenied("Only superusers and cluster admins manage users.")


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


class UserListView(APIView):
    @extend_schema(responses=UserSerializer(many=True))
    def get(self, request):
        _require_user_admin(request)
        return Response(UserSerializer(user_list(actor=request.user), many=True).data)

    @extend_schema(request=UserCreateSerializer, responses={201: UserCreatedSerializer})
    def post(self, request):
        form = UserCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        cluster = None
        if data.get("cluster"):
            cluster = Cluster.objects.filter(name=data["cluster"]).first()
            if cluster is None or not user_can(
                user=request.user, permission="view", cluster=cluster
            ):
                raise serializers.ValidationError({"cluster": ["No such cluster."]})
        created = user_create(
            actor=request.user,
            username=data["username"],
            email=data["email"],
            cluster=cluster,
            role=data.get("role"),
            namespaces=data.get("namespaces") or [],
            base_url=_base_url(request),
            request_id=request.request_id,
        )
        user = user_get(actor=request.user, username=created.user.username)
        user.password_link = created.password_link.url
        user.password_link_expires = created.password_link.expires
        return Response(UserCreatedSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request, username):
        _require_user_admin(request)
        return Response(UserSerializer(user_get(actor=request.user, username=username)).data)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def patch(self, request, username):
        _require_user_admin(request)
        user = user_get(actor=request.user, username=username)
        form = UserUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        change = user_deactivate if not form.validated_data["is_active"] else user_reactivate
        change(actor=request.user, user=user, request_id=request.request_id)
        return Response(UserSerializer(user_get(actor=request.user, username=username)).data)


class UserPasswordLinkView(APIView):
    @extend_schema(request=None, responses={201: PasswordLinkSerializer})
    def post(self, request, username):
        _require_user_admin(request)
        user = user_get(actor=request.user, username=username)
        link = user_password_link_issue(
            actor=request.user,
            user=user,
            base_url=_base_url(request),
            request_id=request.request_id,
        )
        return Response(PasswordLinkSerializer(link).data, status=status.HTTP_201_CREATED)


# --- /api/v1/tokens/ --------------------------------------------------------------------------


class ApiTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.CharField(source="user.username")
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key starts with cp_<prefix>_ (not secret).")
    created = serializers.DateTimeField()
    expires = serializers.DateTimeField()
    last_used = serializers.DateTimeField(allow_null=True)
    revoked = serializers.DateTimeField(allow_null=True)
    state = serializers.ChoiceField(choices=["active", "expired", "revoked"])


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    lifetime_days = serializers.IntegerField(
        required=False, min_value=1, help_text="Days until it expires (default 90)."
    )


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(help_text="The token itself. Shown only in this response.")


class ApiTokenListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "user", str, description="Someone else's tokens (for those who manage them)."
            )
        ],
        responses=ApiTokenSerializer(many=True),
    )
    def get(self, request):
        owner = request.user
        username = request.query_params.get("user")
        if username and username != request.user.get_username():
            _require_user_admin(request)
            owner = user_get(actor=request.user, username=username)
            if not user_manages(actor=request.user, user=owner):
                raise PermissionDenied(f"You may not see {username}'s API tokens.")
        tokens = api_token_list(user=owner)
        return Response(ApiTokenSerializer(tokens, many=True).data)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def post(self, request):
        form = ApiTokenCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        issued = api_token_create(
            actor=request.user,
            user=request.user,
            name=form.validated_data["name"],
            lifetime_days=form.validated_data.get("lifetime_days"),
            request_id=request.request_id,
        )
        issued.token.key = issued.key
        return Response(
            ApiTokenCreatedSerializer(issued.token).data, status=status.HTTP_201_CREATED
        )


class ApiTokenDetailView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, token_id):
        token = api_token_get(actor=request.user, token_id=token_id)
        api_token_revoke(actor=request.user, token=token, request_id=request.request_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
