"""What a page shows of a (cluster, kind): from the watcher's cache, or a live list, and which.

Pages never show a number without saying where it came from and how old it is; a Snapshot
carries exactly that next to the objects.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis

from controlplane.kube.errors import KubeError
from controlplane.kube.watch import list_objects
from controlplane.live.cache import cached_newest, cached_raw, cached_snapshot, cached_tallies
from controlplane.live.tallies import event_time, tally

if TYPE_CHECKING:
    from controlplane.clusters.models import Cluster

log = logging.getLogger(__name__)

CACHE = "cache"
LIVE = "live"
UNAVAILABLE = "unavailable"


@dataclass
class Snapshot:
    kind: str
    objects: list[dict] = field(default_factory=list)
    source: str = UNAVAILABLE
    # When the data was known to be current (epoch seconds): the list's time for live lists;
    # for the cache, the last time the watch stream confirmed it (event, bookmark or reopen).
    as_of: float | None = None
    last_change: float | None = None
    error: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.source != UNAVAILABLE


def _float(meta: dict, name: str) -> float | None:
    try:
        return float(meta[name])
    except (KeyError, TypeError, ValueError):
        return None


def snapshot_get(*, cluster: Cluster, kind: str, namespace: str | None = None) -> Snapshot:
    """The objects of `kind` (in `namespace` if given) with their provenance."""
    note = ""
    try:
        objects, meta = cached_snapshot(cluster_name=cluster.name, kind=kind, namespace=namespace)
    except redis.RedisError as exc:
        log.warning("live cache unreachable for %s/%s: %s", cluster.name, kind, exc)
        objects, meta, note = None, {}, "watcher cache unreachable"
    if objects is not None:
        return _from_cache(kind, objects, meta)
    return _live(cluster=cluster, kind=kind, namespace=namespace, meta=meta, note=note)


def raw_snapshot_get(
    *, cluster: Cluster, kind: str, namespace: str | None = None
) -> tuple[Snapshot, dict[str, str] | None]:
    """snapshot_get for readers that decode only what changed: (the Snapshot, the cached
    objects still encoded, key -> JSON); from a live list, (the Snapshot with its objects,
    None)."""
    note = ""
    try:
        raws, meta = cached_raw(cluster_name=cluster.name, kind=kind, namespace=namespace)
    except redis.RedisError as exc:
        log.warning("live cache unreachable for %s/%s: %s", cluster.name, kind, exc)
        raws, meta, note = None, {}, "watcher cache unreachable"
    if raws is not None:
        return _from_cache(kind, [], meta), raws
    return _live(cluster=cluster, kind=kind, namespace=namespace, meta=meta, note=note), None


def _from_cache(kind: str, objects: list[dict], meta: dict) -> Snapshot:
    times = [
        _float(meta, n) for n in ("synced_at", "last_event_at", "last_bookmark_at", "watch_open_at")
    ]
    changes = [_float(meta, n) for n in ("synced_at", "last_event_at")]
    return Snapshot(
        kind=kind,
        objects=objects,
        source=CACHE,
        as_of=max((t for t in times if t), default=None),
        last_change=max((t for t in changes if t), default=None),
    )


def _live(*, cluster: Cluster, kind: str, namespace: str | None, meta: dict, note: str) -> Snapshot:
    if not note:
        note = "watcher not synced" if meta else "watcher not running for this cluster"
    try:
        items, _rv = list_objects(cluster.connection(), kind=kind, namespace=namespace)
    except KubeError as exc:
        return Snapshot(kind=kind, source=UNAVAILABLE, error=str(exc), note=note)
    items.sort(
        key=lambda o: (
            (o.get("metadata") or {}).get("namespace") or "",
            (o.get("metadata") or {}).get("name") or "",
        )
    )
    now = time.time()
    return Snapshot(kind=kind, objects=items, source=LIVE, as_of=now, last_change=None, note=note)


def tallies_get(*, cluster: Cluster, kind: str) -> tuple[Snapshot, dict[str, int]]:
    """The kind's tallies (controlplane.live.tallies) and where they came from: kept by the
    watcher in its cache, else computed from a live list (the Snapshot then holds the list)."""
    try:
        tallies, meta = cached_tallies(cluster_name=cluster.name, kind=kind)
    except redis.RedisError as exc:
        log.warning("live cache unreachable for %s/%s: %s", cluster.name, kind, exc)
        meta, note = {}, "watcher cache unreachable"
    else:
        if tallies is not None:
            return _from_cache(kind, [], meta), tallies
        note = ""
    snap = _live(cluster=cluster, kind=kind, namespace=None, meta=meta, note=note)
    counted = tally(kind, snap.objects)
    snap.objects = []  # counted: the page shows the tallies, never this list
    return snap, counted


def newest_get(*, cluster: Cluster, kind: str, limit: int) -> Snapshot:
    """The newest `limit` objects of an ordered kind (events), newest first, with provenance;
    read without decoding the others when the watcher's cache holds them."""
    try:
        objects, meta = cached_newest(cluster_name=cluster.name, kind=kind, limit=limit)
    except redis.RedisError as exc:
        log.warning("live cache unreachable for %s/%s: %s", cluster.name, kind, exc)
        objects, meta = None, {}
    if objects is not None:
        return _from_cache(kind, objects, meta)
    snap = snapshot_get(cluster=cluster, kind=kind)
    snap.objects = sorted(snap.objects, key=event_time, reverse=True)[:limit]
    return snap
