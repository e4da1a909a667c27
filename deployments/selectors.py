"""Reads of deployments through the kube layer, role-checked."""

from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import user_can
from controlplane.kube import resources


def _require_view(*, user, cluster, namespace: str) -> None:
    if not user_can(user=user, permission="view", cluster=cluster, namespace=namespace):
        raise PermissionDenied(f"You may not view namespace {namespace} on cluster {cluster.name}.")


def deployment_list(*, user, cluster, namespace: str) -> list[dict]:
    _require_view(user=user, cluster=cluster, namespace=namespace)
    return resources.deployment_list(cluster.connection(), namespace=namespace)


def deployment_get(*, user, cluster, namespace: str, name: str) -> dict:
    _require_view(user=user, cluster=cluster, namespace=namespace)
    return resources.deployment_get(cluster.connection(), namespace=namespace, name=name)


def deployment_summary(obj: dict) -> dict:
    """The fields pages and the API show for a deployment."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": meta.get("labels") or {},
        "annotations": meta.get("annotations") or {},
        "created": meta.get("creationTimestamp"),
        "resource_version": meta.get("resourceVersion"),
        "generation": meta.get("generation"),
        "replicas": spec.get("replicas"),
        "images": [c.get("image") for c in containers],
        "status": {
            "replicas": status.get("replicas", 0),
            "ready_replicas": status.get("readyReplicas", 0),
            "updated_replicas": status.get("updatedReplicas", 0),
            "available_replicas": status.get("availableReplicas", 0),
            "observed_generation": status.get("observedGeneration"),
            "conditions": status.get("conditions") or [],
        },
    }
