"""Kubernetes calls behind rollouts: a deployment with its ReplicaSets and pods, and writes to it.

Writes that depend on what they read (a new image, a revision's template) replace the whole
Deployment carrying the resourceVersion they read, so a change someone made in between is a
409 and the change is applied again to the fresh object, never written over it. Writes of
one absolute field (spec.paused) are merge patches, repeated on a 409.
"""

from collections.abc import Callable

import kubernetes.client as k8s

from . import retry
from .client import api_client
from .connection import ClusterConnection
from .resources import MERGE_PATCH, list_items, read_json


def selector_string(selector: dict | None) -> str:
    """A LabelSelector as the `labelSelector` query string kubectl would send."""
    selector = selector or {}
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _owned_by(items: list[dict], uids: set[str]) -> list[dict]:
    return [
        item
        for item in items
        if any(
            ref.get("controller") and ref.get("uid") in uids
            for ref in (item.get("metadata") or {}).get("ownerReferences") or []
        )
    ]


def deployment_tree(
    conn: ClusterConnection, *, namespace: str, name: str, with_pods: bool = True
) -> dict:
    """{"deployment", "replicasets" (controlled by it), "pods" (controlled by those; [] unless
    `with_pods`)}."""
    apps = k8s.AppsV1Api(api_client(conn))
    core = k8s.CoreV1Api(api_client(conn))
    deployment = read_json(
        apps.read_namespaced_deployment, name, namespace, what=f"get deployment {name}"
    )
    selector = selector_string((deployment.get("spec") or {}).get("selector"))
    replicasets = _owned_by(
        list_items(
            read_json(
                apps.list_namespaced_replica_set,
                namespace,
                label_selector=selector,
                what=f"list replicasets of {name}",
            )
        ),
        {deployment["metadata"].get("uid")},
    )
    if not with_pods:
        return {"deployment": deployment, "replicasets": replicasets, "pods": []}
    pods = _owned_by(
        list_items(
            read_json(
                core.list_namespaced_pod,
                namespace,
                label_selector=selector,
                what=f"list pods of {name}",
            )
        ),
        {rs["metadata"].get("uid") for rs in replicasets},
    )
    return {"deployment": deployment, "replicasets": replicasets, "pods": pods}


def deployment_update(
    conn: ClusterConnection, *, namespace: str, name: str, change: Callable[[dict], dict]
) -> dict:
    """Read the Deployment, apply `change` to it and replace it; on 409 read and apply again.

    `change` gets the object as read and returns the whole object to write (it may raise to
    refuse, e.g. a container that no longer exists).
    """
    apps = k8s.AppsV1Api(api_client(conn))

    def read() -> dict:
        return read_json(
            apps.read_namespaced_deployment, name, namespace, what=f"get deployment {name}"
        )

    def write(body: dict) -> dict:
        return read_json(
            apps.replace_namespaced_deployment,
            name,
            namespace,
            body,
            what=f"replace deployment {name}",
            retry_ok=False,  # a retried replace could answer 409 to its own first attempt
        )

    return retry.update_with_conflict_retry(
        read=read, change=change, write=write, what=f"deployment {name}"
    )


def deployment_patch(conn: ClusterConnection, *, namespace: str, name: str, patch: dict) -> dict:
    """A JSON merge patch of absolute values; repeated on 409."""
    apps = k8s.AppsV1Api(api_client(conn))

    def once() -> dict:
        return read_json(
            apps.patch_namespaced_deployment,
            name,
            namespace,
            patch,
            _content_type=MERGE_PATCH,
            what=f"patch deployment {name}",
        )

    return retry.on_conflict(once, what=f"patch deployment {name}")
