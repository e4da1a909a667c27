"""The object store: every stored object, the resourceVersion counter, the watch history and
the fan-out of each committed change to watches and subscribers.

Objects are plain dicts in their storage-version JSON shape, handed over already defaulted and
validated by the registry. A stored dict is never mutated: each write stores a new dict, so
readers (watch history, cached serializations, the state writer) can hold references safely.
Everything runs on one asyncio loop, so there are no locks.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable

from sandbox.machinery.errors import ApiError
from sandbox.machinery.resources import BY_KEY, ResourceType, resolve
from sandbox.machinery.selectors import label_matcher
from sandbox.storage.entry import Entry
from sandbox.storage.indexes import NodeIndex, OwnerIndex
from sandbox.storage.watchers import Watcher

__all__ = ["Entry", "Store", "Watcher"]

log = logging.getLogger(__name__)

DEFAULT_WATCH_HISTORY = 10_000

Callback = Callable[[str, dict, dict | None], None]
AnyCallback = Callable[[str, str, dict, dict | None], None]


def _ns_of(rt: ResourceType, ns: str | None) -> str:
    return (ns or "") if rt.namespaced else ""


class Store:
    """All objects, indexed by resource, namespace and name; pods also by node, and every
    object by the uids of its owners."""

    def __init__(self, *, watch_history_size: int = DEFAULT_WATCH_HISTORY) -> None:
        self._data: dict[str, dict[str, dict[str, Entry]]] = {
            rt.key: {} for rt in BY_KEY.values() if rt.stored
        }
        self._sorted: dict[tuple[str, str | None], list[tuple[str, str]]] = {}
        self._nodes = NodeIndex()
        self._owners = OwnerIndex()
        self._rv = 0
        self.history: deque[tuple[int, str, str, Entry, dict | None]] = deque(
            maxlen=max(1, watch_history_size)
        )
        # rv of the oldest change that was dropped from history (0: nothing dropped yet)
        self.compacted_rv = 0
        self._subs: dict[str, list[Callback]] = {k: [] for k in self._data}
        self._all_subs: list[AnyCallback] = []
        self._watchers: dict[str, set[Watcher]] = {k: set() for k in self._data}
        self._dirty_listeners: list[Callable[[], None]] = []

    # ---- reads ----

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, res: str, ns: str | None, name: str) -> dict | None:
        entry = self.get_entry(res, ns, name)
        return entry.obj if entry else None

    def get_entry(self, res: str, ns: str | None, name: str) -> Entry | None:
        rt = resolve(res)
        bucket = self._data[rt.key].get(_ns_of(rt, ns))
        return bucket.get(name) if bucket else None

    def entry_at(self, key: str, ns: str, name: str) -> Entry | None:
        """The entry at a key from sorted_keys() (no resource-name resolution: list loops)."""
        bucket = self._data[key].get(ns)
        return bucket.get(name) if bucket else None

    def iter_entries(self, res: str, ns: str | None = None) -> Iterable[Entry]:
        """Entries in key order (namespace, name), as an etcd-backed list returns them."""
        rt = resolve(res)
        data = self._data[rt.key]
        for ns_key, name in self.sorted_keys(rt.key, ns if rt.namespaced else None):
            yield data[ns_key][name]

    def sorted_keys(self, key: str, ns: str | None) -> list[tuple[str, str]]:
        cache_key = (key, ns or None)
        keys = self._sorted.get(cache_key)
        if keys is None:
            data = self._data[key]
            if ns:
                keys = [(ns, n) for n in sorted(data.get(ns, {}))]
            else:
                keys = [(n_s, n) for n_s in sorted(data) for n in sorted(data[n_s])]
            self._sorted[cache_key] = keys
        return keys

    def list(
        self,
        res: str,
        ns: str | None = None,
        label_selector: str | dict | None = None,
    ) -> list[dict]:
        match = label_matcher(label_selector)
        return [e.obj for e in self.iter_entries(res, ns) if match(e.obj)]

    def pods_on_node(self, node: str) -> list[dict]:
        """Pods bound to a node, through the node index (no scan of all pods)."""
        pods = self._data["pods"]
        return [pods[ns][name].obj for ns, name in self._nodes.pods(node)]

    def dependents_of(self, uid: str) -> list[tuple[str, dict]]:
        """(resource key, object) of every object with an ownerReference to uid."""
        out = []
        for res, ns, name in self._owners.dependents(uid):
            entry = self.entry_at(res, ns, name)
            if entry is not None:
                out.append((res, entry.obj))
        return out

    def owns_any(self, uid: str) -> bool:
        return self._owners.owns_any(uid)

    def all_entries(self) -> dict[str, list[Entry]]:
        return {
            key: [e for bucket in data.values() for e in bucket.values()]
            for key, data in self._data.items()
        }

    # ---- subscriptions ----

    def subscribe(self, res: str, callback: Callback) -> Callable[[], None]:
        subs = self._subs[resolve(res).key]
        subs.append(callback)
        return lambda: subs.remove(callback) if callback in subs else None

    def subscribe_all(self, callback: AnyCallback) -> Callable[[], None]:
        """callback(resource_key, event_type, obj, old_obj) for every change of every kind."""
        self._all_subs.append(callback)
        return lambda: self._all_subs.remove(callback) if callback in self._all_subs else None

    def on_dirty(self, callback: Callable[[], None]) -> None:
        self._dirty_listeners.append(callback)

    def add_watcher(self, watcher: Watcher) -> None:
        self._watchers[watcher.key].add(watcher)

    def remove_watcher(self, watcher: Watcher) -> None:
        self._watchers[watcher.key].discard(watcher)

    def close_watchers(self) -> None:
        """Ask every live watch stream to finish (the server is stopping)."""
        for watchers in self._watchers.values():
            for watcher in tuple(watchers):
                watcher.push(("CLOSE", None))  # type: ignore[arg-type]

    def history_since(self, key: str, rv: int) -> list[tuple[str, Entry, dict | None]]:
        """Changes of one resource after rv; raises 410 Expired when rv is older than history."""
        if rv < self.compacted_rv:
            raise ApiError.expired(f"too old resource version: {rv} ({self.compacted_rv})")
        # history is ordered by rv: binary-search the first newer change, then walk from there
        history = self.history
        lo, hi = 0, len(history)
        while lo < hi:
            mid = (lo + hi) // 2
            if history[mid][0] <= rv:
                lo = mid + 1
            else:
                hi = mid
        return [
            (etype, entry, old)
            for _, h_key, etype, entry, old in itertools.islice(history, lo, None)
            if h_key == key
        ]

    # ---- writes: the store takes ownership of the dicts it is given ----

    def insert(self, rt: ResourceType, obj: dict) -> dict:
        """Store a new object under the next resourceVersion."""
        meta = obj["metadata"]
        if self.get_entry(rt.key, meta.get("namespace"), meta["name"]) is not None:
            raise ApiError.already_exists(rt, meta["name"])
        meta["resourceVersion"] = str(self._next_rv())
        entry = self._put(rt, obj, None)
        self._commit(rt, "ADDED", entry, None)
        return obj

    def replace(self, rt: ResourceType, obj: dict, current: dict) -> dict:
        """Store obj in place of current; a write that changes nothing keeps current and its
        resourceVersion, as etcd3's GuaranteedUpdate skips identical bytes."""
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if obj == current:
            return current
        obj["metadata"]["resourceVersion"] = str(self._next_rv())
        entry = self._put(rt, obj, current)
        self._commit(rt, "MODIFIED", entry, current)
        return obj

    def remove(self, rt: ResourceType, current: dict, last: dict | None = None) -> dict:
        """Delete current; watchers see `last` (default: current) under a new resourceVersion."""
        gone = dict(last if last is not None else current)
        gone["metadata"] = dict(gone["metadata"], resourceVersion=str(self._next_rv()))
        self._remove(rt, current)
        self._commit(rt, "DELETED", Entry(gone), current)
        return gone

    def load(self, res: str, objects: Iterable[dict], resource_version: int | None = None) -> int:
        """Insert already-valid stored objects as they are (state restore: no watch events)."""
        rt = resolve(res)
        n = 0
        for obj in objects:
            meta = obj["metadata"]
            self._put(rt, obj, self.get(rt.key, meta.get("namespace"), meta["name"]))
            self._rv = max(self._rv, int(meta.get("resourceVersion") or 0))
            n += 1
        if resource_version is not None:
            self._rv = max(self._rv, resource_version)
        self.compacted_rv = self._rv
        for cb in self._dirty_listeners:
            cb()
        return n

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _commit(self, rt: ResourceType, etype: str, entry: Entry, old: dict | None) -> None:
        rv = int(entry.obj["metadata"]["resourceVersion"])
        if len(self.history) == self.history.maxlen:
            self.compacted_rv = self.history[0][0]
        self.history.append((rv, rt.key, etype, entry, old))
        for watcher in tuple(self._watchers[rt.key]):
            watcher.offer(etype, entry, old)
        for cb in tuple(self._subs[rt.key]):
            try:
                cb(etype, entry.obj, old)
            except Exception:
                log.exception("subscriber %r failed on %s %s", cb, etype, rt.key)
        for cb in tuple(self._all_subs):
            try:
                cb(rt.key, etype, entry.obj, old)
            except Exception:
                log.exception("subscriber %r failed on %s %s", cb, etype, rt.key)
        for cb in self._dirty_listeners:
            cb()

    def _put(self, rt: ResourceType, obj: dict, old: dict | None) -> Entry:
        meta = obj["metadata"]
        ns = _ns_of(rt, meta.get("namespace"))
        bucket = self._data[rt.key].setdefault(ns, {})
        entry = Entry(obj)
        if meta["name"] not in bucket:
            self._invalidate_sorted(rt.key, ns)
        bucket[meta["name"]] = entry
        if rt.key == "pods":
            self._nodes.update(obj, old)
        self._owners.update(rt.key, obj, old)
        return entry

    def _remove(self, rt: ResourceType, obj: dict) -> None:
        meta = obj["metadata"]
        ns = _ns_of(rt, meta.get("namespace"))
        bucket = self._data[rt.key].get(ns)
        if bucket and bucket.pop(meta["name"], None) is not None:
            self._invalidate_sorted(rt.key, ns)
            if not bucket:
                del self._data[rt.key][ns]
        if rt.key == "pods":
            self._nodes.update(None, obj)
        self._owners.update(rt.key, None, obj)

    def _invalidate_sorted(self, key: str, ns: str) -> None:
        self._sorted.pop((key, None), None)
        self._sorted.pop((key, ns or None), None)
