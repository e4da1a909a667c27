"""HorizontalPodAutoscalers (autoscaling/v2) and the events that explain them: plain dicts in
and out, every call with explicit timeouts and through the one retry policy."""

import json
from collections.abc import Callable

import kubernetes.client as k8s

from . import retry
from .client import api_client, timeouts
from .connection import ClusterConnection
from .errors import AlreadyExists, NotFound


def _call(fn: Callable, *args, **kwargs) -> Callable[[], dict]:
    """One raw call returning parsed JSON (errors are translated by retry.call)."""

    def once() -> dict:
        response = fn(*args, _request_timeout=timeouts(), _preload_content=False, **kwargs)
        try:
            return json.loads(response.data or b"{}")
        finally:
            response.release_conn()

    return once


def hpa_get(conn: ClusterConnection, *, namespace: str, name: str) -> dict:
    api = k8s.AutoscalingV2Api(api_client(conn))
    return retry.call(
        _call(api.read_namespaced_horizontal_pod_autoscaler, name, namespace),
        what=f"get horizontalpodautoscaler {name}",
    )


def hpa_put(conn: ClusterConnection, *, namespace: str, manifest: dict) -> tuple[dict, bool]:
    """Create the HPA, or replace its labels and spec; returns (object, created).

    A replace re-reads on 409 and applies the same absolute spec again, so running it twice
    leaves the same state.
    """
    api = k8s.AutoscalingV2Api(api_client(conn))
    name = manifest["metadata"]["name"]
    what = f"horizontalpodautoscaler {name}"
    read = _call(api.read_namespaced_horizontal_pod_autoscaler, name, namespace)
    try:
        retry.call(read, what=f"get {what}")
    except NotFound:
        try:
            created = retry.call(
                _call(api.create_namespaced_horizontal_pod_autoscaler, namespace, manifest),
                what=f"create {what}",
                # A create that timed out may have happened: never send it twice blindly.
                retry=False,
            )
            return created, True
        except AlreadyExists:
            pass  # someone created it meanwhile: replace it like any other

    def change(current: dict) -> dict:
        metadata = dict(current.get("metadata") or {})
        labels = {**(metadata.get("labels") or {}), **(manifest["metadata"].get("labels") or {})}
        metadata["labels"] = labels
        return {**current, "metadata": metadata, "spec": manifest["spec"]}

    def write(body: dict) -> dict:
        return _call(api.replace_namespaced_horizontal_pod_autoscaler, name, namespace, body)()

    replaced = retry.update_with_conflict_retry(read=read, change=change, write=write, what=what)
    return replaced, False


def hpa_delete(conn: ClusterConnection, *, namespace: str, name: str) -> bool:
    """Delete the HPA; False when there was none (deleting nothing is not an error)."""
    api = k8s.AutoscalingV2Api(api_client(conn))
    try:
        retry.call(
            _call(api.delete_namespaced_horizontal_pod_autoscaler, name, namespace),
            what=f"delete horizontalpodautoscaler {name}",
        )
    except NotFound:
        return False
    return True


def events_about(conn: ClusterConnection, *, namespace: str, kind: str, name: str) -> list[dict]:
    """The events whose involvedObject is `kind`/`name` in `namespace` (core/v1 Events)."""
    api = k8s.CoreV1Api(api_client(conn))
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    result = retry.call(
        _call(api.list_namespaced_event, namespace, field_selector=selector),
        what=f"list events of {kind} {name}",
    )
    return list(result.get("items") or [])
