"""The watcher: one list-then-watch per (cluster, kind), keeping the cache and publishing changes.

Threads rather than asyncio tasks: the kube layer (and the kubernetes client under it) is
synchronous and a watch spends its life blocked in a socket read, so a thread per stream is
the natural unit; each stream backs off and recovers on its own, and the watch loop's stop
event interrupts a blocked read promptly. Ten kinds for a handful of clusters is tens of
threads, which costs little; publishing goes through one shared event loop (BroadcastLoop).

Every change is written to the cache first and published second, so a browser that refreshes
on an event always reads a cache at least as new as the event.
"""

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable

import redis

from controlplane.broadcast import BroadcastLoop, group_name
from controlplane.kube.connection import ClusterConnection
from controlplane.kube.objects import object_namespace
from controlplane.kube.retry import backoff_delay
from controlplane.kube.watch import KINDS, list_then_watch
from controlplane.live.cache import LiveCache, object_key
from controlplane.live.hooks import pod_hooks_run

log = logging.getLogger(__name__)

ClusterSource = Callable[[], dict[str, ClusterConnection]]

# A relist that changed more objects than this is announced with SYNCED messages instead of
# one message per object.
RELIST_EVENTS_MAX = 200


def kube_groups(cluster: str, kind: str, obj: dict | None) -> list[str]:
    groups = [group_name("kube", cluster, kind)]
    namespace = object_namespace(obj or {})
    if namespace:
        groups.append(group_name("kube", cluster, kind, namespace))
    return groups


class Stream:
    """One (cluster, kind): runs list_then_watch in a thread until closed."""

    def __init__(
        self,
        *,
        cluster: str,
        conn: ClusterConnection,
        kind: str,
        cache: LiveCache,
        publisher: BroadcastLoop,
        watch_timeout: int,
        backoff_cap: float,
    ):
        self.cluster = cluster
        self.conn = conn
        self.kind = kind
        self.cache = cache
        self.publisher = publisher
        self.watch_timeout = watch_timeout
        self.backoff_cap = backoff_cap
        self.listed = False  # the cache holds a list made by this stream
        self.list_id = ""  # which list: every later write checks the cache still holds it
        self._builder = None  # the list being made (RelistBuilder), between its start and end
        self._closed = threading.Event()
        self._cycle = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"watch-{cluster}-{kind}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def relist(self) -> None:
        """End the current watch; the next cycle begins with a fresh list."""
        self._cycle.set()

    def close(self) -> None:
        self._closed.set()
        self._cycle.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        failures = 0
        while not self._closed.is_set():
            cycle = threading.Event()
            self._cycle = cycle
            if self._closed.is_set():
                break
            try:
                list_then_watch(
                    self.conn,
                    kind=self.kind,
                    on_event=self._on_event,
                    on_relist=self._on_relist,
                    on_bookmark=self._on_bookmark,
                    on_error=self._on_error,
                    on_watch_open=self._on_watch_open,
                    # Each listed object is compacted and stored as its page arrives: a relist
                    # of 30,000 pods never holds 30,000 pods (controlplane.live.relist).
                    on_list_start=self._on_list_start,
                    transform=self._on_listed,
                    stop=cycle,
                    timeout_seconds=self.watch_timeout,
                    backoff_cap=self.backoff_cap,
                )
                failures = 0
            except Exception as exc:
                # A callback could not store or publish (Redis or the channel layer is down).
                # Nothing is lost: the next cycle lists again and the diff is published.
                failures += 1
                self.listed = False
                delay = backoff_delay(failures - 1, base=0.5, cap=self.backoff_cap)
                log.warning(
                    "watcher %s/%s: %s: %s; starting over in %.1fs",
                    self.cluster,
                    self.kind,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                self._note_error(f"{type(exc).__name__}: {exc}")
                self._closed.wait(delay)

    # Callbacks from list_then_watch --------------------------------------------------------

    def _on_list_start(self) -> None:
        self._builder = self.cache.relist(self.cluster, self.kind)

    def _on_listed(self, obj: dict) -> None:
        self._builder.add(obj)

    def _on_relist(self, _objects: list, resource_version: str) -> None:
        # Subscribers get exactly the difference between what they could have seen and now:
        # one event per changed object while that stays small, else one SYNCED ("re-read
        # everything") per affected group, so a first list of 30,000 pods costs a few messages.
        relist = self._builder.commit(resource_version, max_changes=RELIST_EVENTS_MAX)
        self._builder = None
        self.list_id = relist.list_id
        self.listed = True
        if relist.changes is not None:
            for event_type, raw in relist.changes:
                self._publish(event_type, json.loads(raw))
            namespaces: set[str] = set()
        else:
            namespaces = relist.namespaces
        synced = {
            "type": "kube.event",
            "event": "SYNCED",
            "cluster": self.cluster,
            "kind": self.kind,
            "object": None,
        }
        self.publisher.send(group=group_name("kube", self.cluster, self.kind), message=synced)
        for namespace in sorted(namespaces):
            self.publisher.send(
                group=group_name("kube", self.cluster, self.kind, namespace),
                message={**synced, "namespace": namespace},
            )

    def _on_event(self, event_type: str, obj: dict) -> None:
        stored = self.cache.apply(self.cluster, self.kind, event_type, obj, list_id=self.list_id)
        self._publish(event_type, stored)
        pod_hooks_run(kind=self.kind, cluster=self.cluster, event_type=event_type, obj=obj)

    def _on_bookmark(self, resource_version: str) -> None:
        self.cache.bookmark(self.cluster, self.kind, resource_version, list_id=self.list_id)

    def _on_watch_open(self, resource_version: str) -> None:
        self.cache.watch_opened(self.cluster, self.kind, list_id=self.list_id)

    def _on_error(self, exc: Exception) -> None:
        self._note_error(f"{type(exc).__name__}: {exc}")

    def _note_error(self, text: str) -> None:
        try:
            self.cache.record_error(self.cluster, self.kind, text)
        except redis.RedisError as exc:
            log.warning(
                "watcher %s/%s: cannot record error in Redis: %s", self.cluster, self.kind, exc
            )

    def _publish(self, event_type: str, obj: dict) -> None:
        message = {
            "type": "kube.event",
            "event": event_type,
            "cluster": self.cluster,
            "kind": self.kind,
            "key": object_key(obj),
            "object": obj,
        }
        for group in kube_groups(self.cluster, self.kind, obj):
            self.publisher.send(group=group, message=message)


class Watcher:
    """Keeps one Stream per (cluster, kind) in line with the clusters the source lists."""

    def __init__(
        self,
        *,
        cluster_source: ClusterSource,
        cache: LiveCache,
        publisher: BroadcastLoop,
        kinds: list[str] | None = None,
        poll_interval: float = 5.0,
        watch_timeout: int = 300,
        backoff_cap: float = 30.0,
        heartbeat_ttl: float = 20.0,
    ):
        self.cluster_source = cluster_source
        self.cache = cache
        self.publisher = publisher
        self.kinds = list(kinds or KINDS)
        self.poll_interval = poll_interval
        self.watch_timeout = watch_timeout
        self.backoff_cap = backoff_cap
        self.heartbeat_ttl = max(heartbeat_ttl, poll_interval * 3)
        self.streams: dict[tuple[str, str], Stream] = {}
        self._connections: dict[str, ClusterConnection] = {}
        self._redis_run_id: str | None = None
        self._started = time.time()

    def run(self, stop: threading.Event) -> None:
        log.info("watcher: watching %s every %.1fs", ", ".join(self.kinds), self.poll_interval)
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(self.poll_interval)
        finally:
            self.close()

    def tick(self) -> None:
        """One supervision round: clusters in line with the source, Redis checked, heartbeat."""
        try:
            clusters = self.cluster_source()
        except Exception:
            log.exception("watcher: cannot read the cluster list; keeping the current streams")
        else:
            self._reconcile(clusters)
        try:
            self._check_redis()
        except redis.RedisError as exc:
            log.warning("watcher: Redis unreachable: %s", exc)

    def _reconcile(self, clusters: dict[str, ClusterConnection]) -> None:
        for name in list(self._connections):
            conn = clusters.get(name)
            if conn is None or conn.key != self._connections[name].key:
                self._stop_cluster(name, forget=conn is None)
        for name, conn in clusters.items():
            if name not in self._connections:
                self._start_cluster(name, conn)
        for key, stream in list(self.streams.items()):
            if not stream.is_alive():
                log.error("watcher: stream %s/%s died; restarting it", *key)
                self._start_stream(stream.cluster, stream.conn, stream.kind)

    def _start_cluster(self, name: str, conn: ClusterConnection) -> None:
        log.info("watcher: starting streams for cluster %s (%s)", name, conn.server)
        self._connections[name] = conn
        for kind in self.kinds:
            self._start_stream(name, conn, kind)

    def _start_stream(self, name: str, conn: ClusterConnection, kind: str) -> None:
        stream = Stream(
            cluster=name,
            conn=conn,
            kind=kind,
            cache=self.cache,
            publisher=self.publisher,
            watch_timeout=self.watch_timeout,
            backoff_cap=self.backoff_cap,
        )
        self.streams[(name, kind)] = stream
        stream.start()

    def _stop_cluster(self, name: str, *, forget: bool) -> None:
        log.info("watcher: stopping streams for cluster %s%s", name, " (removed)" if forget else "")
        stopping = [
            self.streams.pop((name, kind)) for kind in self.kinds if (name, kind) in self.streams
        ]
        for stream in stopping:
            stream.close()
        for stream in stopping:
            stream.join(10)
        del self._connections[name]
        if forget:
            for kind in self.kinds:
                try:
                    self.cache.forget(name, kind)
                except redis.RedisError as exc:
                    log.warning("watcher: cannot drop the cache of %s/%s: %s", name, kind, exc)

    def _check_redis(self) -> None:
        run_id = self.cache.client.info("server").get("run_id")
        if self._redis_run_id is not None and run_id != self._redis_run_id:
            # A restarted Redis may have come back empty or from an old snapshot: rebuild.
            log.warning("watcher: Redis restarted; relisting every stream")
            for stream in self.streams.values():
                stream.relist()
        else:
            for stream in self.streams.values():
                if stream.listed and not self.cache.client.exists(
                    self.cache.meta_key(stream.cluster, stream.kind)
                ):
                    log.warning(
                        "watcher: cache of %s/%s vanished; relisting", stream.cluster, stream.kind
                    )
                    stream.listed = False
                    stream.relist()
        self._redis_run_id = run_id
        self.cache.heartbeat(
            self.heartbeat_ttl,
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started": self._started,
                "at": time.time(),
                "clusters": sorted(self._connections),
                "kinds": self.kinds,
            },
        )

    def close(self) -> None:
        streams = list(self.streams.values())
        for stream in streams:
            stream.close()
        for stream in streams:
            stream.join(10)
        # Pages must not trust a cache nobody keeps current any more: say so at once rather
        # than when the heartbeat expires.
        try:
            self.cache.client.delete(self.cache.heartbeat_key)
            for stream in streams:
                self.cache.mark_unsynced(stream.cluster, stream.kind)
        except redis.RedisError as exc:
            log.warning("watcher: cannot mark the cache stale on exit: %s", exc)
        self.streams.clear()
        self._connections.clear()


def clusters_from_db() -> dict[str, ClusterConnection]:
    """Every registered cluster's connection (read each poll, so edits are picked up)."""
    from django.db import close_old_connections

    from controlplane.clusters.models import Cluster

    close_old_connections()
    result = {}
    for cluster in Cluster.objects.all():
        try:
            result[cluster.name] = cluster.connection()
        except Exception:
            log.exception(
                "watcher: cluster %s has unusable credentials; not watching it", cluster.name
            )
    return result
