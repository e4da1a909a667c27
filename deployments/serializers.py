"""The JSON shapes of the deployments API, read straight from the Kubernetes objects.

These serializers are the one description of a deployment's body: API responses, pages
(through `deployment_summarize`) and the OpenAPI schema all come from them.
"""

from rest_framework import serializers


class DeploymentStatusSerializer(serializers.Serializer):
    replicas = serializers.IntegerField(default=0)
    ready_replicas = serializers.IntegerField(source="readyReplicas", default=0)
    updated_replicas = serializers.IntegerField(source="updatedReplicas", default=0)
    available_replicas = serializers.IntegerField(source="availableReplicas", default=0)
    observed_generation = serializers.IntegerField(
        source="observedGeneration", default=None, allow_null=True
    )
    conditions = serializers.ListField(child=serializers.DictField(), default=list)


class _Images(serializers.ListField):
    """The image of each container of the pod template, in order."""

    def get_attribute(self, instance):
        template = (instance.get("spec") or {}).get("template") or {}
        return [c.get("image") for c in (template.get("spec") or {}).get("containers") or []]


class _Status(DeploymentStatusSerializer):
    def get_attribute(self, instance):
        return instance.get("status") or {}


class DeploymentSerializer(serializers.Serializer):
    name = serializers.CharField(source="metadata.name")
    namespace = serializers.CharField(source="metadata.namespace")
    labels = serializers.DictField(
        source="metadata.labels", child=serializers.CharField(), default=dict
    )
    annotations = serializers.DictField(
        source="metadata.annotations", child=serializers.CharField(), default=dict
    )
    created = serializers.CharField(
        source="metadata.creationTimestamp", default=None, allow_null=True
    )
    resource_version = serializers.CharField(
        source="metadata.resourceVersion", default=None, allow_null=True
    )
    generation = serializers.IntegerField(
        source="metadata.generation", default=None, allow_null=True
    )
    replicas = serializers.IntegerField(source="spec.replicas", default=None, allow_null=True)
    images = _Images(child=serializers.CharField())
    status = _Status()


class ScaleRequestSerializer(serializers.Serializer):
    # Documentation only: the service validates (strict JSON integer in 0..max).
    replicas = serializers.IntegerField(min_value=0)


def deployment_summarize(*, deployment: dict) -> dict:
    """The fields pages and the API show for a deployment (plain JSON types)."""
    return dict(DeploymentSerializer(deployment).data)


def deployments_summarize(*, deployments: list[dict]) -> list[dict]:
    """deployment_summarize for many: one bound serializer for the whole list (binding a
    serializer per object costs ten times more than the representation itself)."""
    return [dict(item) for item in DeploymentSerializer(deployments, many=True).data]
