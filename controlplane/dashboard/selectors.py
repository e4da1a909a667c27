"""Reads behind the dashboard pages: the cluster overview, built from live snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis

from controlplane.accounts.selectors import visible_namespaces
from controlplane.audit.selectors import audit_list
from controlplane.kube.objects import object_name
from controlplane.kube.watch import KINDS
from controlplane.live.cache import live_cache
from controlplane.live.snapshot import CACHE, Snapshot, newest_get, snapshot_get, tallies_get
from controlplane.live.subscriptions import MAX_SUBSCRIPTIONS
from controlplane.live.tallies import per_namespace

from .summaries import NodeRow, node_rows_from_tallies, recent_events, workload_counts

if TYPE_CHECKING:
    from collections.abc import Iterable

    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster


@dataclass
class Overview:
    nodes: list[NodeRow] = field(default_factory=list)
    namespaces: list[dict] = field(default_factory=list)
    workloads: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    actions: list = field(default_factory=list)
    sources: dict[str, Snapshot] = field(default_factory=dict)
    show_nodes: bool = True


# Which kinds each overview section is computed from (the page refreshes a section when one of
# its kinds changes).
SECTION_KINDS = {
    "nodes": ["nodes", "pods"],
    "namespaces": ["namespaces", "pods"],
    "workloads": [
        "deployments",
        "pods",
        "jobs",
        "replicasets",
        "services",
        "horizontalpodautoscalers",
        "ingresses",
    ],
    "events": ["events"],
    "actions": [],
}


@dataclass(frozen=True)
class LivePlan:
    """What a page subscribes to: `kinds` in each of `namespaces` (None: cluster-wide)."""

    kinds: list[str]
    namespaces: list[str] | None
    note: str = ""


def overview_live_get(*, user: User, cluster: Cluster) -> LivePlan:
    """The overview's subscriptions for this user.

    A grant narrowed to namespaces may not subscribe cluster-wide (that stream carries every
    namespace), so it subscribes per allowed namespace to the namespaced kinds; nodes and the
    namespace list are not shown to it anyway.
    """
    kinds = sorted({kind for kinds in SECTION_KINDS.values() for kind in kinds})
    visible = visible_namespaces(user=user, cluster=cluster)
    if visible is None:
        return LivePlan(kinds=kinds, namespaces=None)
    namespaced = [kind for kind in kinds if KINDS[kind].namespaced]
    namespaces = sorted(visible)
    # One more for the actions stream.
    if len(namespaced) * len(namespaces) + 1 > MAX_SUBSCRIPTIONS:
        return LivePlan(
            kinds=[],
            namespaces=namespaces,
            note=f"live updates cover at most {MAX_SUBSCRIPTIONS // len(namespaced)} "
            "namespaces; reload to refresh",
        )
    return LivePlan(kinds=namespaced, namespaces=namespaces)


# Kinds the overview shows as objects (few: nodes, namespaces) or as the newest (events); every
# other kind only as counts, read from the tallies the watcher keeps, so no request decodes
# every pod.
_OBJECT_KINDS = ("nodes", "namespaces")
EVENTS_SHOWN = 15


def _events(*, cluster: Cluster, visible: set[str] | None) -> Snapshot:
    if visible is None:
        return newest_get(cluster=cluster, kind="events", limit=EVENTS_SHOWN)
    # A narrowed grant reads its namespaces' events only (selected inside the cache).
    parts = [snapshot_get(cluster=cluster, kind="events", namespace=ns) for ns in sorted(visible)]
    if not parts:
        return Snapshot(kind="events", source=CACHE)
    failed = next((p for p in parts if not p.ok), None)
    merged = failed or min(parts, key=lambda p: p.as_of or 0)
    merged.objects = [o for p in parts for o in p.objects]
    return merged


def overview_get(*, user: User, cluster: Cluster, sections: list[str] | None = None) -> Overview:
    sections = sections or list(SECTION_KINDS)
    visible = visible_namespaces(user=user, cluster=cluster)
    overview = Overview(show_nodes=visible is None)
    needed = {kind for section in sections for kind in SECTION_KINDS[section]}
    if not overview.show_nodes:
        needed.discard("nodes")
    tallies: dict[str, dict[str, int]] = {}
    for kind in sorted(needed):
        if kind == "events":
            snap = _events(cluster=cluster, visible=visible)
        elif kind in _OBJECT_KINDS:
            snap = snapshot_get(cluster=cluster, kind=kind)
            if visible is not None and kind == "namespaces":
                snap.objects = [o for o in snap.objects if object_name(o) in visible]
        else:
            snap, tallies[kind] = tallies_get(cluster=cluster, kind=kind)
        overview.sources[kind] = snap
    if "nodes" in sections and overview.show_nodes:
        overview.nodes = node_rows_from_tallies(overview.sources["nodes"].objects, tallies["pods"])
    if "namespaces" in sections:
        pods_per_ns = per_namespace(tallies["pods"])
        overview.namespaces = [
            {
                "name": object_name(ns),
                "phase": (ns.get("status") or {}).get("phase", ""),
                "pods": pods_per_ns.get(object_name(ns), 0),
            }
            for ns in overview.sources["namespaces"].objects
        ]
    if "workloads" in sections:
        overview.workloads = workload_counts(overview.sources, tallies, visible)
    if "events" in sections:
        overview.events = recent_events(overview.sources["events"].objects, limit=EVENTS_SHOWN)
    if "actions" in sections:
        overview.actions = list(audit_list(user=user, cluster=cluster.name)[:10])
    return overview


def source_errors(snapshots: Iterable[Snapshot]) -> list[str]:
    """The distinct errors of the snapshots that could not be read, for a page to show once
    (a cluster that cannot be reached fails every kind with the same error)."""
    return list(dict.fromkeys(s.error for s in snapshots if not s.ok and s.error))


def watcher_status_get(*, clusters: Iterable[Cluster]) -> dict:
    """The watcher's health as it reports it in Redis, per cluster and kind."""
    cache = live_cache()
    try:
        heartbeat = cache.heartbeat_info()
        rows = []
        for cluster in clusters:
            for kind in KINDS:
                meta = cache.meta(cluster.name, kind)
                rows.append({"cluster": cluster.name, "kind": kind, "meta": meta})
    except redis.RedisError as exc:
        return {"error": f"Redis unreachable: {exc}", "heartbeat": None, "rows": []}
    return {"error": "", "heartbeat": heartbeat, "rows": rows}
