"""The command palette's search: workloads whose name contains what was typed, across the
namespaces the user may view, from the watcher's cache only (never a list through the
cluster's API: a keystroke must not cost the API server anything)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import visible_namespaces
from controlplane.live.cache import cached_snapshot

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

SEARCH_LIMIT = 20
QUERY_MAX = 253


def _rank(text: str, namespace: str, name: str) -> tuple | None:
    """Exact name, then a name starting with it, then containing it, then a match on
    namespace/name; None when it does not match at all."""
    name_l = name.lower()
    if not text:
        return (3, namespace, name)
    if name_l == text:
        return (0, namespace, name)
    if name_l.startswith(text):
        return (1, name, namespace)
    if text in name_l:
        return (2, name, namespace)
    if text in f"{namespace}/{name}".lower():
        return (3, namespace, name)
    return None


def workload_search(*, user: User, cluster: Cluster, text: str, limit: int = SEARCH_LIMIT) -> dict:
    """{"results": [{"kind", "namespace", "name", "ready", "desired"}], "total", "source",
    "note"}: at most `limit` deployments matching `text`, best first. source is "cache", or
    "unavailable" (with a note) when the watcher's cache cannot be trusted."""
    visible = visible_namespaces(user=user, cluster=cluster)
    if visible is not None and not visible:
        raise PermissionDenied(f"You may not view cluster {cluster.name}.")
    text = text.strip().lower()[:QUERY_MAX]
    try:
        objects, meta = cached_snapshot(cluster_name=cluster.name, kind="deployments")
    except redis.RedisError:
        return {"results": [], "total": 0, "source": "unavailable", "note": "cache unreachable"}
    if objects is None:
        note = "watcher not synced" if meta else "watcher not running for this cluster"
        return {"results": [], "total": 0, "source": "unavailable", "note": note}
    ranked = []
    for obj in objects:
        meta_ = obj.get("metadata") or {}
        namespace, name = meta_.get("namespace") or "", meta_.get("name") or ""
        if visible is not None and namespace not in visible:
            continue
        rank = _rank(text, namespace, name)
        if rank is not None:
            ranked.append((rank, obj, namespace, name))
    ranked.sort(key=lambda item: item[0])
    results = []
    for _, obj, namespace, name in ranked[:limit]:
        status = obj.get("status") or {}
        results.append(
            {
                "kind": "deployment",
                "namespace": namespace,
                "name": name,
                "ready": int(status.get("readyReplicas") or 0),
                "desired": int((obj.get("spec") or {}).get("replicas", 1) or 0),
            }
        )
    return {"results": results, "total": len(ranked), "source": "cache", "note": ""}
