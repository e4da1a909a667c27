"""Serializers shared by several endpoints (documentation of response shapes)."""

from rest_framework import serializers

from controlplane.audit.models import ActionStatus
from controlplane.audit.serialization import action_url


class ActionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ActionStatus.values)
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


def accepted_body(event) -> dict:
    """The answer to an accepted mutation (HTTP 202): the action and where to follow it."""
    return {"id": str(event.id), "status": event.status, "url": action_url(event)}
