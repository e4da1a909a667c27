"""Serializers shared by several endpoints (documentation of response shapes)."""

from rest_framework import serializers


class ActionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=["pending", "running", "succeeded", "failed", "refused"]
    )
    actor = serializers.CharField()
    cluster = serializers.CharField()
    namespace = serializers.CharField()
    kind = serializers.CharField()
    name = serializers.CharField()
    verb = serializers.CharField()
    parameters = serializers.DictField()
    error = serializers.CharField()
    result = serializers.DictField()
    attempts = serializers.IntegerField()
    request_id = serializers.CharField()
    created = serializers.DateTimeField()
    started = serializers.DateTimeField(allow_null=True)
    finished = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField()


class AcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    url = serializers.CharField()


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


def accepted_body(event) -> dict:
    from controlplane.audit.serialization import action_url

    return {"id": str(event.id), "status": event.status, "url": action_url(event)}
