"""Autoscaler tasks: create or replace, and delete, a deployment's HPA (absolute states)."""

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import action_task
from controlplane.kube import autoscalers, resources

from ..autoscalers import autoscaler_manifest, autoscaler_request_validate


@action_task
def deployment_autoscaler_set_task(event: AuditEvent) -> dict:
    # Checked again: the parameters are the request the service accepted, nothing else.
    request = autoscaler_request_validate(event.parameters)
    conn = event.cluster.connection()
    # The HPA carries the deployment's labels; a missing deployment fails the action here.
    deployment = resources.deployment_get(conn, namespace=event.namespace, name=event.name)
    manifest = autoscaler_manifest(
        namespace=event.namespace,
        name=event.name,
        request=request,
        labels=(deployment.get("metadata") or {}).get("labels") or {},
    )
    hpa, created = autoscalers.hpa_put(conn, namespace=event.namespace, manifest=manifest)
    return {
        "autoscaler": (hpa.get("metadata") or {}).get("name", event.name),
        "created": created,
        "min_replicas": request["min_replicas"],
        "max_replicas": request["max_replicas"],
    }


@action_task
def deployment_autoscaler_delete_task(event: AuditEvent) -> dict:
    deleted = autoscalers.hpa_delete(
        event.cluster.connection(), namespace=event.namespace, name=event.name
    )
    if not deleted:
        return {"deleted": False, "note": f"deployment {event.name} had no autoscaler"}
    return {"deleted": True}
