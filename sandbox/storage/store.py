"""The object store: every API object of the sandbox, with API-server write semantics.

Objects are plain dicts in their storage-version JSON shape. A stored dict is never mutated:
each write stores a new dict, so readers (watch history, cached serializations, the state
writer) can hold references safely. Everything runs on one asyncio loop, so there are no locks.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import logging
import random
import uuid
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sandbox.machinery.errors import ApiError
from sandbox.machinery.resources import BY_KEY, ResourceType, resolve
from sandbox.machinery.selectors import Matcher, label_matcher
from sandbox.registry import defaults, validation

__all__ = ["ApiError", "Entry", "Store", "Watcher", "now_iso"]

log = logging.getLogger(__name__)

DEFAULT_WATCH_HISTORY = 10_000
_NAME_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"

Callback = Callable[[str, dict, dict | None], None]
AnyCallback = Callable[[str, str, dict, dict | None], None]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Entry:
    """A stored object with its serialized JSON cached (objects never change once stored)."""

    __slots__ = ("_meta_raw", "_raw", "obj")

    def __init__(self, obj: dict) -> None:
        self.obj = obj
        self._raw: bytes | None = None
        self._meta_raw: bytes | None = None

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = _dumps(self.obj)
        return self._raw

    @property
    def meta_raw(self) -> bytes:
        if self._meta_raw is None:
            self._meta_raw = _dumps(self.obj.get("metadata", {}))
        return self._meta_raw


class Watcher:
    """A live watch on one resource; the store pushes matching events into its queue."""

    __slots__ = ("field_match", "key", "label_match", "namespace", "overflowed", "push", "queue")

    def __init__(
        self,
        key: str,
        namespace: str | None,
        label_match: Matcher,
        field_match: Matcher,
        push: Callable[[tuple[str, Entry]], None],
    ) -> None:
        self.key = key
        self.namespace = namespace
        self.label_match = label_match
        self.field_match = field_match
        self.push = push
        self.overflowed = False

    def matches(self, obj: dict) -> bool:
        return self.label_match(obj) and self.field_match(obj)

    def offer(self, etype: str, entry: Entry, old: dict | None) -> None:
        obj = entry.obj
        if self.namespace and obj["metadata"].get("namespace") != self.namespace:
            return
        now = self.matches(obj)
        before = old is not None and self.matches(old)
        if etype == "DELETED":
            if now:
                self.push(("DELETED", entry))
        elif etype == "ADDED":
            if now:
                self.push(("ADDED", entry))
        elif now and before:
            self.push(("MODIFIED", entry))
        elif now:
            self.push(("ADDED", entry))
        elif before:
            # the object left the selection: watchers see it go, as with a real server
            self.push(("DELETED", entry))


def _ns_of(rt: ResourceType, ns: str | None) -> str:
    return (ns or "") if rt.namespaced else ""


class Store:
    """All objects, indexed by resource, namespace and name; pods also by node."""

    def __init__(self, *, watch_history_size: int = DEFAULT_WATCH_HISTORY) -> None:
        self._data: dict[str, dict[str, dict[str, Entry]]] = {
            rt.key: {} for rt in BY_KEY.values() if rt.stored
        }
        self._count: dict[str, int] = dict.fromkeys(self._data, 0)
        self._sorted: dict[tuple[str, str | None], list[tuple[str, str]]] = {}
        self._pods_by_node: dict[str, dict[tuple[str, str], None]] = {}
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
        # (namespace, object, reason, message, type, component) -> Event name (events.py)
        self.event_index: dict[tuple, str] = {}

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

    def count(self, res: str) -> int:
        return self._count[resolve(res).key]

    def namespaces_with(self, res: str) -> list[str]:
        return [ns for ns, bucket in self._data[resolve(res).key].items() if bucket]

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

    def keys_after(self, key: str, ns: str | None, after: tuple[str, str]) -> int:
        """Index of the first key strictly after `after` in sorted_keys(key, ns)."""
        return bisect_right(self.sorted_keys(key, ns), after)

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
        return [pods[ns][name].obj for ns, name in self._pods_by_node.get(node, ())]

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

    def watcher_count(self) -> int:
        return sum(len(w) for w in self._watchers.values())

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

    # ---- writes ----

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
            self._count[rt.key] += 1
            self._invalidate_sorted(rt.key, ns)
        bucket[meta["name"]] = entry
        if rt.key == "pods":
            self._index_pod(obj, old)
        return entry

    def _remove(self, rt: ResourceType, obj: dict) -> None:
        meta = obj["metadata"]
        ns = _ns_of(rt, meta.get("namespace"))
        bucket = self._data[rt.key].get(ns)
        if bucket and bucket.pop(meta["name"], None) is not None:
            self._count[rt.key] -= 1
            self._invalidate_sorted(rt.key, ns)
            if not bucket:
                del self._data[rt.key][ns]
        if rt.key == "pods":
            self._index_pod(None, obj)

    def _invalidate_sorted(self, key: str, ns: str) -> None:
        self._sorted.pop((key, None), None)
        self._sorted.pop((key, ns or None), None)

    def _index_pod(self, new: dict | None, old: dict | None) -> None:
        old_node = (old or {}).get("spec", {}).get("nodeName")
        new_node = (new or {}).get("spec", {}).get("nodeName")
        if old_node == new_node and new is not None:
            return
        ref = old or new
        assert ref is not None
        key = (ref["metadata"].get("namespace", ""), ref["metadata"]["name"])
        if old_node:
            on = self._pods_by_node.get(old_node)
            if on is not None:
                on.pop(key, None)
                if not on:
                    del self._pods_by_node[old_node]
        if new_node and new is not None:
            self._pods_by_node.setdefault(new_node, {})[key] = None

    def _require_namespace(self, rt: ResourceType, ns: str, name: str) -> None:
        """A namespaced object needs an existing namespace that is not being deleted."""
        if not rt.namespaced:
            return
        if not ns:
            raise ApiError.bad_request("the server could not find the requested resource")
        namespace = self.get("namespaces", None, ns)
        if namespace is None:
            raise ApiError.not_found("namespaces", ns)
        if namespace.get("metadata", {}).get("deletionTimestamp"):
            raise ApiError.forbidden(
                f'{rt.key} "{name}" is forbidden: unable to create new content in namespace '
                f"{ns} because it is being terminated",
                {"name": ns, "kind": "namespaces"},
            )

    def create(self, res: str, obj: dict, *, dry_run: bool = False) -> dict:
        rt = resolve(res)
        obj = _with_type(rt, copy.deepcopy(obj))
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError.bad_request("metadata must be an object")
        for drop in (
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            meta.pop(drop, None)
        if not rt.namespaced:
            meta.pop("namespace", None)
        ns = meta.get("namespace", "") if rt.namespaced else ""
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                random.choice(_NAME_SUFFIX) for _ in range(5)
            )
        self._require_namespace(rt, ns, meta.get("name", ""))
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        if rt.generation:
            meta["generation"] = 1
        defaults.on_create(rt, obj)
        validation.validate(rt, obj, None)
        if self.get(rt.key, ns, meta["name"]) is not None:
            raise ApiError.already_exists(rt, meta["name"])
        if dry_run:
            return obj
        meta["resourceVersion"] = str(self._next_rv())
        entry = self._put(rt, obj, None)
        self._commit(rt, "ADDED", entry, None)
        return obj

    def _existing(self, rt: ResourceType, obj: dict) -> tuple[dict, dict]:
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            raise ApiError.invalid(
                rt.kind,
                "",
                [
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value: name is required",
                        "field": "metadata.name",
                    }
                ],
                rt.group,
            )
        ns = _ns_of(rt, meta.get("namespace"))
        current = self.get(rt.key, ns, meta["name"])
        if current is None:
            raise ApiError.not_found(rt, meta["name"])
        rv = meta.get("resourceVersion")
        if rv and str(rv) != current["metadata"]["resourceVersion"]:
            raise ApiError.conflict(rt, meta["name"])
        return current, meta

    def update(self, res: str, obj: dict, *, dry_run: bool = False) -> dict:
        rt = resolve(res)
        current, _ = self._existing(rt, obj)
        obj = _with_type(rt, copy.deepcopy(obj))
        meta = obj["metadata"]
        cur_meta = current["metadata"]
        for keep in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "generateName",
        ):
            if keep in cur_meta:
                meta[keep] = cur_meta[keep]
            else:
                meta.pop(keep, None)
        if rt.namespaced:
            meta["namespace"] = cur_meta.get("namespace")
        else:
            meta.pop("namespace", None)
        if rt.has_status:
            if "status" in current:
                obj["status"] = current["status"]
            else:
                obj.pop("status", None)
        defaults.on_update(rt, obj, current)
        validation.validate(rt, obj, current)
        if rt.generation and _spec_of(obj) != _spec_of(current):
            meta["generation"] = int(cur_meta.get("generation", 0)) + 1
        return self._replace(rt, obj, current, dry_run=dry_run)

    def update_status(self, res: str, obj: dict, *, dry_run: bool = False) -> dict:
        rt = resolve(res)
        current, _ = self._existing(rt, obj)
        new = dict(current)
        new["status"] = copy.deepcopy(obj.get("status"))
        if new["status"] is None:
            new.pop("status")
        new["metadata"] = dict(current["metadata"])
        validation.validate_status(rt, new)
        return self._replace(rt, new, current, dry_run=dry_run)

    def _replace(self, rt: ResourceType, obj: dict, current: dict, *, dry_run: bool) -> dict:
        meta = obj["metadata"]
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        if obj == current:
            return current  # a no-op write does not bump the resourceVersion
        if dry_run:
            return obj
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not (
                rt.key == "pods"
                and (current.get("spec") or {}).get("nodeName")
                and meta.get("deletionGracePeriodSeconds", 0) > 0
            )
        ):
            # the last finalizer is gone: the deletion completes now
            meta["resourceVersion"] = str(self._next_rv())
            self._remove(rt, current)
            self._commit(rt, "DELETED", Entry(obj), current)
            return obj
        meta["resourceVersion"] = str(self._next_rv())
        entry = self._put(rt, obj, current)
        self._commit(rt, "MODIFIED", entry, current)
        return obj

    def delete(
        self,
        res: str,
        ns: str | None,
        name: str,
        *,
        propagation: str | None = None,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        preconditions: dict | None = None,
    ) -> dict:
        """Delete (or begin deleting) an object and return it as it is afterwards."""
        rt = resolve(res)
        current = self.get(rt.key, ns, name)
        if current is None:
            raise ApiError.not_found(rt, name)
        if preconditions:
            if preconditions.get("uid") and preconditions["uid"] != current["metadata"]["uid"]:
                raise ApiError.conflict(
                    rt,
                    name,
                    f"Precondition failed: UID in precondition: {preconditions['uid']}, UID in "
                    f"object meta: {current['metadata']['uid']}",
                )
            p_rv = preconditions.get("resourceVersion")
            if p_rv and str(p_rv) != current["metadata"]["resourceVersion"]:
                raise ApiError.conflict(rt, name)
        if propagation not in (None, "Foreground", "Background", "Orphan"):
            raise ApiError.bad_request(
                f'propagationPolicy: Unsupported value: "{propagation}": supported values: '
                '"Foreground", "Background", "Orphan"'
            )
        meta = current["metadata"]
        if dry_run:
            return current
        if rt.key == "namespaces":
            return self._begin_namespace_deletion(rt, current)
        if meta.get("deletionTimestamp"):
            # already being deleted: only a shorter grace period for a pod changes anything;
            # grace 0 is the kubelet (or --force) finishing the deletion
            if rt.key == "pods" and grace_period_seconds == 0 and not meta.get("finalizers"):
                return self._hard_delete(rt, current)
            if (
                rt.key == "pods"
                and grace_period_seconds is not None
                and (grace_period_seconds < meta.get("deletionGracePeriodSeconds", 0))
            ):
                return self._mark_deleting(rt, current, grace_period_seconds, None)
            return current
        finalizers = list(meta.get("finalizers") or [])
        grace = 0
        if rt.key == "pods":
            # a pod running on a node terminates gracefully: the kubelet finishes the deletion
            spec = current.get("spec") or {}
            grace = grace_period_seconds
            if grace is None:
                grace = spec.get("terminationGracePeriodSeconds", 30)
            if not spec.get("nodeName") or (current.get("status") or {}).get("phase") in (
                "Succeeded",
                "Failed",
            ):
                grace = 0
        if propagation == "Foreground":
            if "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            return self._mark_deleting(rt, current, grace, finalizers)
        if propagation == "Orphan":
            for dep_key, dep in self.dependents_of(meta["uid"]):
                self._drop_owner(dep_key, dep, meta["uid"])
        if grace > 0:
            return self._mark_deleting(rt, current, grace, finalizers or None)
        if finalizers:
            return self._mark_deleting(rt, current, 0, finalizers)
        return self._hard_delete(rt, current)

    def _mark_deleting(
        self, rt: ResourceType, current: dict, grace: int, finalizers: list[str] | None
    ) -> dict:
        new = dict(current)
        meta = dict(current["metadata"])
        meta["deletionTimestamp"] = meta.get("deletionTimestamp") or _ts_after(grace)
        meta["deletionGracePeriodSeconds"] = grace
        if finalizers is not None:
            meta["finalizers"] = finalizers
        meta["resourceVersion"] = str(self._next_rv())
        new["metadata"] = meta
        entry = self._put(rt, new, current)
        self._commit(rt, "MODIFIED", entry, current)
        return new

    def _hard_delete(self, rt: ResourceType, current: dict) -> dict:
        gone = dict(current)
        gone["metadata"] = dict(current["metadata"], resourceVersion=str(self._next_rv()))
        self._remove(rt, current)
        self._commit(rt, "DELETED", Entry(gone), current)
        return gone

    def _begin_namespace_deletion(self, rt: ResourceType, current: dict) -> dict:
        if current["metadata"].get("deletionTimestamp"):
            return current
        new = copy.deepcopy(current)
        new["metadata"]["deletionTimestamp"] = now_iso()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new.setdefault("status", {})["phase"] = "Terminating"
        new["metadata"]["resourceVersion"] = str(self._next_rv())
        entry = self._put(rt, new, current)
        self._commit(rt, "MODIFIED", entry, current)
        return new

    def finish_namespace_deletion(self, name: str) -> None:
        """Remove a Terminating namespace once gc has emptied it."""
        current = self.get("namespaces", None, name)
        if current is not None and current["metadata"].get("deletionTimestamp"):
            self._hard_delete(BY_KEY["namespaces"], current)

    def remove_finalizer(self, res: str, ns: str | None, name: str, finalizer: str) -> None:
        current = self.get(res, ns, name)
        if current is None:
            return
        finalizers = [f for f in current["metadata"].get("finalizers") or [] if f != finalizer]
        new = dict(current)
        new["metadata"] = dict(current["metadata"], finalizers=finalizers)
        if not finalizers:
            new["metadata"].pop("finalizers")
        self._replace(resolve(res), new, current, dry_run=False)

    # ---- owner references (the index itself lives in gc.py; the store asks it) ----

    dependents_of: Callable[[str], list[tuple[str, dict]]] = staticmethod(lambda uid: [])

    def _drop_owner(self, dep_key: str, dep: dict, owner_uid: str) -> None:
        new = dict(dep)
        refs = [
            r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
        ]
        new["metadata"] = dict(dep["metadata"], ownerReferences=refs)
        if not refs:
            new["metadata"].pop("ownerReferences")
        self._replace(resolve(dep_key), new, dep, dry_run=False)

    # ---- events ----

    def record_event(
        self,
        involved: dict,
        *,
        reason: str,
        message: str,
        type: str = "Normal",
        component: str,
    ) -> None:
        from sandbox.machinery.events import record_event

        record_event(self, involved, reason=reason, message=message, type=type, component=component)

    # ---- bulk load (state restore and benchmarks) ----

    def load(self, res: str, objects: Iterable[dict], resource_version: int | None = None) -> int:
        """Insert already-valid stored objects as they are (no defaulting, no events)."""
        rt = resolve(res)
        n = 0
        for obj in objects:
            self._put(
                rt, obj, self.get(rt.key, obj["metadata"].get("namespace"), obj["metadata"]["name"])
            )
            self._rv = max(self._rv, int(obj["metadata"].get("resourceVersion") or 0))
            n += 1
        if resource_version is not None:
            self._rv = max(self._rv, resource_version)
        self.compacted_rv = self._rv
        for cb in self._dirty_listeners:
            cb()
        return n

    def bulk_create(self, res: str, objects: Iterable[dict]) -> int:
        """Create many objects with full semantics but one dirty notification (benchmarks)."""
        n = 0
        for obj in objects:
            self.create(res, obj)
            n += 1
        return n

    def all_entries(self) -> dict[str, list[Entry]]:
        return {
            key: [e for bucket in data.values() for e in bucket.values()]
            for key, data in self._data.items()
        }


def _with_type(rt: ResourceType, obj: dict) -> dict:
    # kind and apiVersion first, as the real server serializes them
    out = {"kind": rt.kind, "apiVersion": rt.api_version()}
    out.update((k, v) for k, v in obj.items() if k not in ("kind", "apiVersion"))
    return out


def _spec_of(obj: dict) -> object:
    # generation counts changes to everything but metadata and status
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _ts_after(seconds: int) -> str:
    t = datetime.now(UTC).timestamp() + max(0, seconds)
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_continue(rv: int, last: tuple[str, str]) -> str:
    raw = json.dumps({"v": "sandbox/1", "rv": rv, "start": list(last)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError):
        raise ApiError.bad_request("continue key is not valid: incorrect encoded start") from None
