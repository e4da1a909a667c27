from rest_framework import serializers


class DeploymentStatusSerializer(serializers.Serializer):
    replicas = serializers.IntegerField()
    ready_replicas = serializers.IntegerField()
    updated_replicas = serializers.IntegerField()
    available_replicas = serializers.IntegerField()
    observed_generation = serializers.IntegerField(allow_null=True)
    conditions = serializers.ListField(child=serializers.DictField())


class DeploymentSerializer(serializers.Serializer):
    name = serializers.CharField()
    namespace = serializers.CharField()
    labels = serializers.DictField(child=serializers.CharField())
    annotations = serializers.DictField(child=serializers.CharField())
    created = serializers.CharField()
    resource_version = serializers.CharField()
    generation = serializers.IntegerField()
    replicas = serializers.IntegerField(allow_null=True)
    images = serializers.ListField(child=serializers.CharField())
    status = DeploymentStatusSerializer()


class ScaleRequestSerializer(serializers.Serializer):
    # Documentation only: the service validates (strict JSON integer in 0..max).
    replicas = serializers.IntegerField(min_value=0)
