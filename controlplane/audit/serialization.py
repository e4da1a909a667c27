"""The one JSON shape of an action/audit event (API responses and live broadcasts)."""

from django.urls import reverse

from .models import AuditEvent


def _iso(value):
    return value.isoformat() if value else None


def action_url(event: AuditEvent) -> str:
    return reverse("api-action-detail", kwargs={"pk": event.id})


def action_serialize(event: AuditEvent) -> dict:
    return {
        "id": str(event.id),
        "status": event.status,
        "actor": event.actor_name,
        "cluster": event.cluster_name,
        "namespace": event.namespace,
        "kind": event.kind,
        "name": event.name,
        "verb": event.verb,
        "parameters": event.parameters,
        "error": event.error,
        "result": event.result,
        "attempts": event.attempts,
        "request_id": event.request_id,
        "created": _iso(event.created),
        "started": _iso(event.started),
        "finished": _iso(event.finished),
        "url": action_url(event),
    }
