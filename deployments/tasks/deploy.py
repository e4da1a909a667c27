"""Deploying and deleting models in the worker: the kube layer does the calls.

A create whose answer was lost (the task runs again) finds its own object by the action
annotation and carries on; anything else already there fails the action with the API
server's message, never overwritten.
"""

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import action_task
from controlplane.kube import resources, workloads
from controlplane.kube.errors import AlreadyExists, NotFound
from controlplane.kube.manifests import ACTION_ANNOTATION, model_manifests, selector_matches


def _ours(obj: dict, event: AuditEvent) -> bool:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(ACTION_ANNOTATION) == str(
        event.id
    )


def _create(create, read, *, body: dict, event: AuditEvent) -> dict:
    try:
        return create(body=body)
    except AlreadyExists:
        existing = read()
        if _ours(existing, event):
            return existing
        raise


def _refuse_a_taken_service(conn, *, namespace: str, name: str, event: AuditEvent) -> None:
    """Fail before creating anything when another Service has the name: a Deployment created
    first would be left behind without the Service the request asked for."""
    try:
        existing = workloads.service_get(conn, namespace=namespace, name=name)
    except NotFound:
        return
    if not _ours(existing, event):
        raise AlreadyExists(f'services "{name}" already exists', reason="AlreadyExists")


@action_task
def deployment_create_task(event: AuditEvent) -> dict:
    conn = event.cluster.connection()
    namespace = event.namespace
    deployment, service = model_manifests(
        namespace=namespace, spec=event.parameters, action_id=str(event.id)
    )
    name = deployment["metadata"]["name"]
    if service is not None:
        _refuse_a_taken_service(conn, namespace=namespace, name=name, event=event)
    created = _create(
        lambda body: workloads.deployment_create(conn, namespace=namespace, body=body),
        lambda: resources.deployment_get(conn, namespace=namespace, name=name),
        body=deployment,
        event=event,
    )
    result = {"deployment": name, "uid": (created.get("metadata") or {}).get("uid")}
    if service is not None:
        made = _create(
            lambda body: workloads.service_create(conn, namespace=namespace, body=body),
            lambda: workloads.service_get(conn, namespace=namespace, name=name),
            body=service,
            event=event,
        )
        result["service"] = name
        result["service_type"] = (made.get("spec") or {}).get("type")
    return result


def _its_services(services: list[dict], pod_labels: dict) -> list[dict]:
    """Services whose selector picks this deployment's pods."""
    return [
        s for s in services if selector_matches((s.get("spec") or {}).get("selector"), pod_labels)
    ]


def _its_autoscalers(autoscalers: list[dict], name: str) -> list[dict]:
    def targets(hpa: dict) -> bool:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        return ref.get("kind") == "Deployment" and ref.get("name") == name

    return [hpa for hpa in autoscalers if targets(hpa)]


@action_task
def deployment_delete_task(event: AuditEvent) -> dict:
    conn = event.cluster.connection()
    namespace, name = event.namespace, event.name
    cascade = set(event.parameters.get("cascade") or [])
    propagation = event.parameters.get("propagation") or "Background"
    # Read first: the delete is conditional on this uid, and the cascade follows its labels.
    current = resources.deployment_get(conn, namespace=namespace, name=name)
    metadata = current.get("metadata") or {}
    pod_labels = (((current.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels"
    ) or {}
    services = (
        _its_services(workloads.service_list(conn, namespace=namespace), pod_labels)
        if "services" in cascade
        else []
    )
    autoscalers = (
        _its_autoscalers(workloads.autoscaler_list(conn, namespace=namespace), name)
        if "autoscaler" in cascade
        else []
    )
    workloads.deployment_delete(
        conn, namespace=namespace, name=name, propagation=propagation, uid=metadata.get("uid")
    )
    result = {"deployment": name, "propagation": propagation, "services": [], "autoscalers": []}
    for service in services:
        meta = service.get("metadata") or {}
        try:
            workloads.service_delete(
                conn, namespace=namespace, name=meta["name"], uid=meta.get("uid")
            )
        except NotFound:
            continue  # someone else removed it meanwhile: the outcome is the same
        result["services"].append(meta["name"])
    for hpa in autoscalers:
        meta = hpa.get("metadata") or {}
        try:
            workloads.autoscaler_delete(
                conn, namespace=namespace, name=meta["name"], uid=meta.get("uid")
            )
        except NotFound:
            continue
        result["autoscalers"].append(meta["name"])
    return result
