"""Creating and deleting workloads, and the listings their warnings and cascades read.

Creates are not retried on a lost answer (a second POST would meet AlreadyExists); the task
recognises its own object by the action annotation instead. Deletes carry the uid that was
read as a precondition, so an object replaced in between is never deleted by mistake.
"""

from __future__ import annotations

import kubernetes.client as k8s

from .client import api_client
from .connection import ClusterConnection
from .resources import list_items, read_json

PROPAGATION_POLICIES = ("Background", "Foreground")


def _delete_body(*, propagation: str, uid: str | None) -> dict:
    body: dict = {"propagationPolicy": propagation}
    if uid:
        body["preconditions"] = {"uid": uid}
    return body


# Deployments -------------------------------------------------------------------------------


def deployment_create(conn: ClusterConnection, *, namespace: str, body: dict) -> dict:
    api = k8s.AppsV1Api(api_client(conn))
    name = body["metadata"]["name"]
    return read_json(
        api.create_namespaced_deployment,
        namespace,
        body,
        what=f"create deployment {name}",
        retry_ok=False,
    )


def deployment_delete(
    conn: ClusterConnection,
    *,
    namespace: str,
    name: str,
    propagation: str = "Background",
    uid: str | None = None,
) -> dict:
    api = k8s.AppsV1Api(api_client(conn))
    return read_json(
        api.delete_namespaced_deployment,
        name,
        namespace,
        body=_delete_body(propagation=propagation, uid=uid),
        what=f"delete deployment {name}",
    )


# Services ----------------------------------------------------------------------------------


def service_get(conn: ClusterConnection, *, namespace: str, name: str) -> dict:
    api = k8s.CoreV1Api(api_client(conn))
    return read_json(api.read_namespaced_service, name, namespace, what=f"get service {name}")


def service_create(conn: ClusterConnection, *, namespace: str, body: dict) -> dict:
    api = k8s.CoreV1Api(api_client(conn))
    name = body["metadata"]["name"]
    return read_json(
        api.create_namespaced_service,
        namespace,
        body,
        what=f"create service {name}",
        retry_ok=False,
    )


def service_list(conn: ClusterConnection, *, namespace: str) -> list[dict]:
    api = k8s.CoreV1Api(api_client(conn))
    return list_items(read_json(api.list_namespaced_service, namespace, what="list services"))


def service_delete(
    conn: ClusterConnection,
    *,
    namespace: str,
    name: str,
    propagation: str = "Background",
    uid: str | None = None,
) -> dict:
    api = k8s.CoreV1Api(api_client(conn))
    return read_json(
        api.delete_namespaced_service,
        name,
        namespace,
        body=_delete_body(propagation=propagation, uid=uid),
        what=f"delete service {name}",
    )


# Autoscalers -------------------------------------------------------------------------------


def autoscaler_list(conn: ClusterConnection, *, namespace: str) -> list[dict]:
    api = k8s.AutoscalingV2Api(api_client(conn))
    return list_items(
        read_json(
            api.list_namespaced_horizontal_pod_autoscaler,
            namespace,
            what="list horizontalpodautoscalers",
        )
    )


def autoscaler_delete(
    conn: ClusterConnection, *, namespace: str, name: str, uid: str | None = None
) -> dict:
    api = k8s.AutoscalingV2Api(api_client(conn))
    return read_json(
        api.delete_namespaced_horizontal_pod_autoscaler,
        name,
        namespace,
        body=_delete_body(propagation="Background", uid=uid),
        what=f"delete horizontalpodautoscaler {name}",
    )


# Reads for warnings ------------------------------------------------------------------------


def pod_list(conn: ClusterConnection, *, namespace: str) -> list[dict]:
    api = k8s.CoreV1Api(api_client(conn))
    return list_items(read_json(api.list_namespaced_pod, namespace, what="list pods"))


def node_list(conn: ClusterConnection) -> list[dict]:
    api = k8s.CoreV1Api(api_client(conn))
    return list_items(read_json(api.list_node, what="list nodes"))
