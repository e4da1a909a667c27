"""Reads behind the log viewer and the download: the pods of a workload, a pod's containers,
the download stream (or the kept lines of a pod that is gone), all role-checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.kube.errors import NotFound
from controlplane.kube.logs import LogOptions, LogStream, pod_log_open
from controlplane.live.snapshot import snapshot_get

from .access import logs_check
from .store import StreamRef, kept_lines

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster


def pod_containers(pod: dict) -> dict[str, list[str]]:
    spec = pod.get("spec") or {}
    return {
        "containers": [c.get("name") for c in spec.get("containers") or []],
        "init_containers": [c.get("name") for c in spec.get("initContainers") or []],
    }


def _owned_by(items: list[dict], uids: set[str]) -> list[dict]:
    return [
        item
        for item in items
        if any(
            ref.get("controller") and ref.get("uid") in uids
            for ref in (item.get("metadata") or {}).get("ownerReferences") or []
        )
    ]


def workload_pods(*, cluster: Cluster, namespace: str, kind: str, name: str) -> list[dict]:
    """The pods a Deployment (through its ReplicaSets) or a Job controls now, oldest first;
    from the watcher's cache when it is synced, else listed live."""
    owner_kind = "deployments" if kind == "deployment" else "jobs"
    owners = snapshot_get(cluster=cluster, kind=owner_kind, namespace=namespace).objects
    uids = {
        (o.get("metadata") or {}).get("uid")
        for o in owners
        if (o.get("metadata") or {}).get("name") == name
    }
    if not uids:
        return []
    if kind == "deployment":
        sets = snapshot_get(cluster=cluster, kind="replicasets", namespace=namespace).objects
        uids = {(rs.get("metadata") or {}).get("uid") for rs in _owned_by(sets, uids)}
    pods = _owned_by(snapshot_get(cluster=cluster, kind="pods", namespace=namespace).objects, uids)
    pods.sort(
        key=lambda p: (
            (p.get("metadata") or {}).get("creationTimestamp") or "",
            p["metadata"]["name"],
        )
    )
    return pods


def pod_log_stream(
    *,
    user: User,
    cluster: Cluster,
    namespace: str,
    pod: str,
    options: LogOptions,
    request_id: str | None = None,
) -> LogStream:
    """The pods/log response to copy through to the caller."""
    logs_check(
        user=user, cluster=cluster, namespace=namespace, name=pod, verb="get", request_id=request_id
    )
    return pod_log_open(cluster.connection(), namespace=namespace, pod=pod, options=options)


def pod_log_kept(
    *, user: User, cluster: Cluster, namespace: str, pod: str, container: str, timestamps: bool
) -> bytes:
    """The kept lines of a pod the cluster no longer has, rendered as the download would be;
    NotFound when none are kept either."""
    logs_check(user=user, cluster=cluster, namespace=namespace, name=pod, verb="get")
    lines, _meta = kept_lines(stream=StreamRef(cluster.name, namespace, pod, container))
    if not lines:
        raise NotFound(f'pods "{pod}" not found, and no lines of it are kept')
    if timestamps:
        return "".join(f"{ts} {text}\n" for _seq, ts, text in lines).encode()
    return "".join(f"{text}\n" for _seq, _ts, text in lines).encode()
