"""The JSON shapes of .../deployments/{name}/autoscaler/: the request (documentation; the
service checks it, deployments.autoscalers), the description GET returns, and the 202."""

from rest_framework import serializers

from controlplane.audit.serializers import AcceptedSerializer


class AutoscalerMetricRequestSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["cpu", "memory", "pods"])
    target_utilization = serializers.IntegerField(
        required=False, min_value=1, help_text="% of the containers' request (cpu, memory)"
    )
    target_average_value = serializers.CharField(
        required=False, help_text='a quantity per pod: "500m", "512Mi", "10"'
    )
    name = serializers.CharField(required=False, help_text="the pods metric's name")


class AutoscalerRequestSerializer(serializers.Serializer):
    min_replicas = serializers.IntegerField(
        required=False, default=1, min_value=1, help_text="scaling to zero is not supported"
    )
    max_replicas = serializers.IntegerField(min_value=1)
    metrics = AutoscalerMetricRequestSerializer(many=True)
    scale_down_stabilization_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=3600
    )


class AutoscalerSpecSerializer(serializers.Serializer):
    min_replicas = serializers.IntegerField(default=1)
    max_replicas = serializers.IntegerField(default=None, allow_null=True)
    metrics = serializers.ListField(child=serializers.DictField(), default=list)
    scale_down_stabilization_seconds = serializers.IntegerField(default=None, allow_null=True)


class AutoscalerMetricStatusSerializer(serializers.Serializer):
    type = serializers.CharField()
    name = serializers.CharField(default="")
    target = serializers.CharField(default=None, allow_null=True)
    current = serializers.CharField(
        default=None, allow_null=True, help_text="null is <unknown>: see explanations"
    )
    unknown = serializers.BooleanField()
    target_utilization = serializers.IntegerField(default=None, allow_null=True)
    current_utilization = serializers.IntegerField(default=None, allow_null=True)
    target_average_value = serializers.CharField(default=None, allow_null=True)
    current_average_value = serializers.CharField(default=None, allow_null=True)


class AutoscalerConditionSerializer(serializers.Serializer):
    type = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)
    last_transition_time = serializers.CharField(default=None, allow_null=True)


class AutoscalerEventSerializer(serializers.Serializer):
    type = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()
    last_seen = serializers.CharField(default=None, allow_null=True)


class AutoscalerStatusSerializer(serializers.Serializer):
    current_replicas = serializers.IntegerField(default=None, allow_null=True)
    desired_replicas = serializers.IntegerField(default=None, allow_null=True)
    last_scale_time = serializers.CharField(default=None, allow_null=True)
    metrics = AutoscalerMetricStatusSerializer(many=True)
    conditions = AutoscalerConditionSerializer(many=True)
    events = AutoscalerEventSerializer(many=True, help_text="most recent first")


class AutoscalerSerializer(serializers.Serializer):
    name = serializers.CharField()
    namespace = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField(), default=dict)
    resource_version = serializers.CharField(default=None, allow_null=True)
    spec = AutoscalerSpecSerializer()
    status = AutoscalerStatusSerializer()
    explanations = serializers.ListField(
        child=serializers.CharField(), help_text="what is wrong, in plain words"
    )


class AutoscalerAcceptedSerializer(AcceptedSerializer):
    warnings = serializers.ListField(child=serializers.CharField(), default=list)


class ScaleAcceptedSerializer(AcceptedSerializer):
    warnings = serializers.ListField(
        child=serializers.CharField(),
        default=list,
        help_text="e.g. an autoscaler manages the deployment and will override the count",
    )


def autoscaler_serialize(*, described: dict) -> dict:
    return dict(AutoscalerSerializer(described).data)
