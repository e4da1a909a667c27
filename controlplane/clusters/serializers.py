from rest_framework import serializers

from controlplane.accounts.selectors import role_for

from .models import Cluster, ClusterSource


class ClusterSerializer(serializers.ModelSerializer):
    """A cluster as the API shows it: never any credential, only where it is."""

    role = serializers.SerializerMethodField()

    class Meta:
        model = Cluster
        fields = [
            "name",
            "display_name",
            "server",
            "source",
            "context",
            "default_namespace",
            "logs_for_viewers",
            "created",
            "updated",
            "role",
        ]
        read_only_fields = fields

    def get_role(self, cluster) -> str | None:
        request = self.context.get("request")
        role = role_for(user=request.user, cluster=cluster) if request else None
        return role.slug if role else None


class ClusterCreateSerializer(serializers.Serializer):
    name = serializers.SlugField(max_length=63)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    source = serializers.ChoiceField(choices=ClusterSource.choices, default="kubeconfig")
    kubeconfig = serializers.CharField(required=False, trim_whitespace=False, write_only=True)
    context = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        if attrs["source"] == ClusterSource.KUBECONFIG and not attrs.get("kubeconfig"):
            raise serializers.ValidationError({"kubeconfig": ["This field is required."]})
        return attrs


class ClusterUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    logs_for_viewers = serializers.BooleanField(
        required=False, help_text="Whether viewers may read pod logs (else operators and above)"
    )
    kubeconfig = serializers.CharField(required=False, trim_whitespace=False, write_only=True)
    context = serializers.CharField(required=False, allow_blank=True)


class KubeconfigPreviewRequestSerializer(serializers.Serializer):
    kubeconfig = serializers.CharField(trim_whitespace=False, write_only=True)


class ContextPreviewSerializer(serializers.Serializer):
    name = serializers.CharField()
    cluster = serializers.CharField()
    user = serializers.CharField()
    server = serializers.CharField()
    namespace = serializers.CharField()
    auth = serializers.CharField()


class KubeconfigPreviewSerializer(serializers.Serializer):
    current_context = serializers.CharField()
    contexts = ContextPreviewSerializer(many=True)


class AccessRowSerializer(serializers.Serializer):
    resource = serializers.CharField()
    group = serializers.CharField()
    verbs = serializers.DictField(child=serializers.BooleanField())


class ConnectionTestSerializer(serializers.Serializer):
    server = serializers.CharField()
    reachable = serializers.BooleanField()
    version = serializers.CharField(allow_null=True)
    error = serializers.CharField()
    access = AccessRowSerializer(many=True)
    access_error = serializers.CharField()
