"""batch/v1 Jobs and what following one needs: its pods, their logs, and its events.

Creates are not retried on a lost answer (the task recognises its own Job by the action
annotation instead); deletes carry the uid read before, so a Job replaced in between under
the same name is never deleted by mistake.
"""

from __future__ import annotations

import kubernetes.client as k8s

from . import retry
from .client import api_client, timeouts
from .connection import ClusterConnection
from .resources import list_items, read_json


def job_create(conn: ClusterConnection, *, namespace: str, body: dict) -> dict:
    api = k8s.BatchV1Api(api_client(conn))
    name = body["metadata"]["name"]
    return read_json(
        api.create_namespaced_job, namespace, body, what=f"create job {name}", retry_ok=False
    )


def job_get(conn: ClusterConnection, *, namespace: str, name: str) -> dict:
    api = k8s.BatchV1Api(api_client(conn))
    return read_json(api.read_namespaced_job, name, namespace, what=f"get job {name}")


def job_list(conn: ClusterConnection, *, namespace: str, label_selector: str = "") -> list[dict]:
    api = k8s.BatchV1Api(api_client(conn))
    return list_items(
        read_json(
            api.list_namespaced_job, namespace, label_selector=label_selector, what="list jobs"
        )
    )


def job_delete(
    conn: ClusterConnection,
    *,
    namespace: str,
    name: str,
    propagation: str = "Foreground",
    uid: str | None = None,
) -> dict:
    """Delete a Job and (by `propagation`) its pods; a Job's own default would orphan them."""
    api = k8s.BatchV1Api(api_client(conn))
    body: dict = {"propagationPolicy": propagation}
    if uid:
        body["preconditions"] = {"uid": uid}
    return read_json(
        api.delete_namespaced_job, name, namespace, body=body, what=f"delete job {name}"
    )


def pods_selected(conn: ClusterConnection, *, namespace: str, label_selector: str) -> list[dict]:
    api = k8s.CoreV1Api(api_client(conn))
    return list_items(
        read_json(
            api.list_namespaced_pod, namespace, label_selector=label_selector, what="list pods"
        )
    )


def events_about(conn: ClusterConnection, *, namespace: str, kind: str, name: str) -> list[dict]:
    """The core/v1 events whose involvedObject is `kind`/`name` in `namespace`."""
    api = k8s.CoreV1Api(api_client(conn))
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    return list_items(
        read_json(api.list_namespaced_event, namespace, field_selector=selector, what="list events")
    )


def pod_log_tail(
    conn: ClusterConnection, *, namespace: str, pod: str, container: str, limit_bytes: int
) -> str:
    """The last `limit_bytes` (about) of a container's log as text (not followed).

    The API's limitBytes cuts the log's end, not its start, so the tail is asked for in lines
    (generously) and trimmed here to whole lines within the budget.
    """
    api = k8s.CoreV1Api(api_client(conn))

    def once() -> str:
        response = api.read_namespaced_pod_log(
            pod,
            namespace,
            container=container,
            tail_lines=max(limit_bytes // 16, 100),
            _request_timeout=timeouts(),
            _preload_content=False,
        )
        try:
            data = response.data or b""
        finally:
            response.release_conn()
        return data.decode("utf-8", errors="replace")

    text = retry.call(once, what=f"log of pod {pod} container {container}")
    if len(text.encode()) <= limit_bytes:
        return text
    tail = text.encode()[-limit_bytes:].decode("utf-8", errors="ignore")
    # A partial first line would be misread (a progress line cut in half): drop it.
    return tail.split("\n", 1)[1] if "\n" in tail else tail
