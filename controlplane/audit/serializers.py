"""The one description of an action's JSON: API responses, the schema and live broadcasts."""

from django.urls import reverse
from rest_framework import serializers

from .models import ActionStatus, AuditEvent


def action_url(event: AuditEvent) -> str:
    return reverse("api-action-detail", kwargs={"pk": event.id})


class ActionSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")
    cluster = serializers.CharField(source="cluster_name")
    status = serializers.ChoiceField(choices=ActionStatus.choices)
    parameters = serializers.JSONField(help_text="as the request sent them (secrets redacted)")
    result = serializers.JSONField()
    waiting_for_worker = serializers.BooleanField(
        read_only=True,
        help_text=(
            "true while the action is pending past the pickup deadline: no worker has taken "
            "it (none is running for this queue, or the queue lost it and it will be re-queued)"
        ),
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "status",
            "actor",
            "cluster",
            "namespace",
            "kind",
            "name",
            "verb",
            "parameters",
            "error",
            "result",
            "attempts",
            "enqueues",
            "waiting_for_worker",
            "request_id",
            "created",
            "started",
            "finished",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, event: AuditEvent) -> str:
        return action_url(event)


def action_serialize(event: AuditEvent) -> dict:
    """Plain JSON types (for the channel layer as much as for responses)."""
    return dict(ActionSerializer(event).data)


class AcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ActionStatus.choices)
    url = serializers.CharField(help_text="GET it to follow the action")


def accepted_body(event: AuditEvent) -> dict:
    """The answer to an accepted mutation (HTTP 202): the action and where to follow it."""
    return dict(
        AcceptedSerializer({"id": event.id, "status": event.status, "url": action_url(event)}).data
    )


class NotQueuedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    action = ActionSerializer()
