"""The JSON shapes of the GKE API: request bodies, credentials (never the key), and clusters,
node pools and operations read from Google's answers (its camelCase JSON)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class CredentialSerializer(serializers.Serializer):
    project = serializers.CharField(source="project_id")
    kind = serializers.CharField(help_text="key (service-account key) or adc")
    client_email = serializers.CharField()
    endpoint = serializers.CharField(help_text="empty: Google's Kubernetes Engine API")
    last_error = serializers.CharField(help_text="what Google last said refusing the credentials")
    last_error_at = serializers.DateTimeField(allow_null=True)
    created = serializers.DateTimeField()


class CredentialCreateSerializer(serializers.Serializer):
    project = serializers.CharField()
    key = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="the service-account key file (object or its JSON text); absent: ADC",
    )
    endpoint = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="the Kubernetes Engine API (absent: GKE_DEFAULT_ENDPOINT; empty: Google's)",
    )


class AutoscalingSerializer(serializers.Serializer):
    min_node_count = serializers.IntegerField(min_value=0, default=0)
    max_node_count = serializers.IntegerField(min_value=1)


class GkeClusterCreateSerializer(serializers.Serializer):
    name = serializers.CharField()
    node_count = serializers.IntegerField(default=3, help_text="nodes per zone")
    machine_type = serializers.CharField(default="e2-medium")
    release_channel = serializers.ChoiceField(
        choices=["", "RAPID", "REGULAR", "STABLE", "EXTENDED"], default="REGULAR"
    )
    autoscaling = AutoscalingSerializer(required=False, allow_null=True)
    workload_identity = serializers.BooleanField(default=False)


class NodePoolCreateSerializer(serializers.Serializer):
    name = serializers.CharField()
    node_count = serializers.IntegerField(default=1, help_text="nodes per zone")
    machine_type = serializers.CharField(default="e2-medium")
    accelerator_type = serializers.CharField(
        required=False, allow_blank=True, help_text="e.g. nvidia-tesla-t4; empty: no GPUs"
    )
    accelerator_count = serializers.IntegerField(default=1)
    gpu_driver = serializers.ChoiceField(
        choices=["", "DEFAULT", "LATEST", "INSTALLATION_DISABLED"], default="DEFAULT"
    )
    autoscaling = AutoscalingSerializer(required=False, allow_null=True)


class NodePoolSizeSerializer(serializers.Serializer):
    node_count = serializers.IntegerField(help_text="nodes per zone")


class NodePoolAutoscalingSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    min_node_count = serializers.IntegerField(default=0)
    max_node_count = serializers.IntegerField(required=False)


class _Get(serializers.Field):
    """A value at a dotted camelCase path of Google's JSON."""

    def __init__(self, path: str, default=None, **kwargs):
        self.path = path
        self.fallback = default
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance):
        value = instance
        for part in self.path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return self.fallback if value is None else value

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.STR)
class _GetText(_Get):
    pass


@extend_schema_field(OpenApiTypes.INT)
class _GetInt(_Get):
    pass


@extend_schema_field({"type": "array", "items": {}})
class _GetList(_Get):
    pass


@extend_schema_field(OpenApiTypes.OBJECT)
class _GetObject(_Get):
    pass


class NodePoolSerializer(serializers.Serializer):
    name = _GetText("name")
    status = _GetText("status")
    machine_type = _GetText("config.machineType")
    node_count = _GetInt("initialNodeCount", 0)
    accelerators = _GetList("config.accelerators", [])
    autoscaling = _GetObject("autoscaling", {})
    locations = _GetList("locations", [])


class GkeClusterSerializer(serializers.Serializer):
    name = _GetText("name")
    location = _GetText("location")
    status = _GetText("status")
    endpoint = _GetText("endpoint", "")
    current_node_count = _GetInt("currentNodeCount", 0)
    release_channel = _GetText("releaseChannel.channel", "")
    workload_pool = _GetText("workloadIdentityConfig.workloadPool", "")
    node_pools = NodePoolSerializer(source="nodePools", many=True, default=list)
    registered = serializers.CharField(
        allow_null=True, help_text="the control plane's cluster for it, once registered"
    )


class OperationSerializer(serializers.Serializer):
    name = _GetText("name")
    operation_type = _GetText("operationType")
    status = _GetText("status")
    target = _GetText("targetLink")
    progress = _GetObject("progress", {})
    error = _GetText("error.message", "")
    start_time = _GetText("startTime", "")
    end_time = _GetText("endTime", "")
