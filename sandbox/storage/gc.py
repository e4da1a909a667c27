"""Garbage collection through ownerReferences, foreground deletion, and namespace teardown.

The collector keeps an index owner uid -> dependents, updated on every committed change, and
works through a queue on the event loop, as kube-controller-manager's garbage collector and
namespace controller do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from sandbox.machinery.errors import ApiError
from sandbox.machinery.resources import STORED

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # resource key, namespace, name


class GarbageCollector:
    def __init__(self, store) -> None:
        self.store = store
        self._dependents: dict[str, dict[Key, None]] = {}
        self._uids: dict[str, Key] = {}  # uid -> key of live objects that own something
        self._queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        # owners in foreground deletion, by uid, until their dependents are gone
        self._waiting: dict[str, Key] = {}
        store.subscribe_all(self._on_change)
        store.dependents_of = self.dependents_of
        self.index_existing()

    def index_existing(self) -> None:
        for key, entries in self.store.all_entries().items():
            for e in entries:
                self._index(key, e.obj, None)
                meta = e.obj["metadata"]
                if meta.get("deletionTimestamp"):
                    self._queue_deleting(key, e.obj)

    def dependents_of(self, uid: str) -> list[tuple[str, dict]]:
        out = []
        for res, ns, name in list(self._dependents.get(uid, ())):
            obj = self.store.get(res, ns, name)
            if obj is not None:
                out.append((res, obj))
        return out

    def _index(self, key: str, obj: dict | None, old: dict | None) -> None:
        new_refs = {
            r.get("uid") for r in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []
        }
        old_refs = {
            r.get("uid") for r in ((old or {}).get("metadata") or {}).get("ownerReferences") or []
        }
        if new_refs == old_refs and obj is not None:
            return
        ref = obj or old
        assert ref is not None
        k = (key, ref["metadata"].get("namespace", ""), ref["metadata"]["name"])
        for uid in old_refs - new_refs:
            deps = self._dependents.get(uid)
            if deps is not None:
                deps.pop(k, None)
                if not deps:
                    del self._dependents[uid]
        for uid in new_refs - old_refs:
            self._dependents.setdefault(uid, {})[k] = None

    def _on_change(self, key: str, etype: str, obj: dict, old: dict | None) -> None:
        if etype == "DELETED":
            self._index(key, None, obj)
            uid = obj["metadata"].get("uid")
            if uid in self._dependents:
                self._queue.put_nowait(("orphaned", uid))
            ns = obj["metadata"].get("namespace")
            if ns:
                namespace = self.store.get("namespaces", None, ns)
                if namespace is not None and namespace["metadata"].get("deletionTimestamp"):
                    self._queue.put_nowait(("namespace", ns))
            for ref in obj["metadata"].get("ownerReferences") or []:
                self._queue.put_nowait(("owner", ref.get("uid")))
            return
        self._index(key, obj, old)
        if obj["metadata"].get("deletionTimestamp") and not (old or {}).get("metadata", {}).get(
            "deletionTimestamp"
        ):
            self._queue_deleting(key, obj)

    def _queue_deleting(self, key: str, obj: dict) -> None:
        if key == "namespaces":
            self._queue.put_nowait(("namespace", obj["metadata"]["name"]))
        elif "foregroundDeletion" in (obj["metadata"].get("finalizers") or []):
            k = (key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            self._waiting[obj["metadata"]["uid"]] = k
            self._queue.put_nowait(("foreground", k))

    async def run(self) -> None:
        while True:
            what, arg = await self._queue.get()
            try:
                if what == "orphaned":
                    self._delete_dependents(str(arg), None)
                elif what == "foreground":
                    self._foreground(*arg)  # type: ignore[misc]
                elif what == "owner":
                    self._owner_check(str(arg))
                elif what == "namespace":
                    self._namespace(str(arg))
            except Exception:
                log.exception("garbage collection of %s %s failed", what, arg)

    def _delete_dependents(self, uid: str, propagation: str | None) -> None:
        for res, dep in self.dependents_of(uid):
            refs = dep["metadata"].get("ownerReferences") or []
            # a dependent with another live owner survives, as in the real collector
            others = [r for r in refs if r.get("uid") != uid and self._alive(r.get("uid"), dep)]
            if others:
                continue
            meta = dep["metadata"]
            try:
                self.store.delete(
                    res,
                    meta.get("namespace"),
                    meta["name"],
                    propagation=propagation or "Background",
                )
            except ApiError as err:
                if err.code != 404:
                    log.warning("could not delete dependent %s %s: %s", res, meta["name"], err)

    def _alive(self, uid: str | None, dep: dict) -> bool:
        if not uid:
            return False
        for ref in dep["metadata"].get("ownerReferences") or []:
            if ref.get("uid") != uid:
                continue
            rt = _rt_for(ref)
            if rt is None:
                return False
            owner = self.store.get(rt.key, dep["metadata"].get("namespace"), ref.get("name"))
            return (
                owner is not None
                and owner["metadata"].get("uid") == uid
                and not owner["metadata"].get("deletionTimestamp")
            )
        return False

    def _foreground(self, res: str, ns: str, name: str) -> None:
        obj = self.store.get(res, ns, name)
        if obj is None:
            return
        uid = obj["metadata"]["uid"]
        deps = self.dependents_of(uid)
        if deps:
            self._delete_dependents(uid, "Foreground")
            return  # finished when the last dependent is gone (an "owner" event)
        self._waiting.pop(uid, None)
        self.store.remove_finalizer(res, ns, name, "foregroundDeletion")

    def _owner_check(self, uid: str) -> None:
        # a dependent went away; if its owner waits in foreground deletion, maybe finish it
        waiting = self._waiting.get(uid)
        if waiting is not None:
            self._foreground(*waiting)

    async def expire_events(self, ttl: float, interval: float) -> None:
        """Delete Events older than `ttl` seconds, as the API server's event TTL does."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.expire_events_once(ttl)
            except Exception:
                log.exception("expiring events failed")

    def expire_events_once(self, ttl: float) -> int:
        cutoff = time.time() - ttl
        expired = 0
        for entry in list(self.store.iter_entries("events")):
            ev = entry.obj
            stamp = (
                ev.get("lastTimestamp")
                or ev.get("eventTime")
                or ev["metadata"].get("creationTimestamp")
            )
            if stamp and _epoch(stamp) < cutoff:
                meta = ev["metadata"]
                self.store.delete("events", meta.get("namespace"), meta["name"])
                expired += 1
        if expired:
            index = self.store.event_index
            for key, name in list(index.items()):
                if self.store.get("events", key[0], name) is None:
                    del index[key]
        return expired

    def _namespace(self, ns: str) -> None:
        namespace = self.store.get("namespaces", None, ns)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for rt in STORED:
            if not rt.namespaced:
                continue
            for obj in self.store.list(rt.key, ns):
                remaining += 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.store.delete(rt.key, ns, obj["metadata"]["name"], propagation="Background")
                except ApiError as err:
                    if err.code != 404:
                        log.warning(
                            "namespace %s: could not delete %s %s: %s",
                            ns,
                            rt.key,
                            obj["metadata"]["name"],
                            err,
                        )
        if remaining == 0 or not any(self.store.list(rt.key, ns) for rt in STORED if rt.namespaced):
            self.store.finish_namespace_deletion(ns)


def _epoch(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")  # unparseable: never expire it silently on a guess


def _rt_for(ref: dict):
    from sandbox.machinery.resources import for_api_version

    return for_api_version(ref.get("apiVersion", ""), ref.get("kind", ""))
