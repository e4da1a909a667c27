"""Garbage collection through ownerReferences, foreground deletion, and namespace teardown.

The collector reacts to committed changes through the owner index storage keeps (owner uid ->
dependents) and works through a queue on the event loop, as kube-controller-manager's garbage
collector and namespace controller do. Events expire here too, as etcd leases expire them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from sandbox.machinery.errors import ApiError
from sandbox.machinery.resources import STORED, for_api_version
from sandbox.storage.store import Store

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # resource key, namespace, name


class GarbageCollector:
    """Reads the owner index storage keeps and deletes through the API, so every deletion it
    makes is graceful, finalized and propagated like a user's."""

    def __init__(self, storage: Store, api: Any) -> None:
        self.storage = storage
        self.api = api
        self._queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        # owners in foreground deletion, by uid, until their dependents are gone
        self._waiting: dict[str, Key] = {}
        storage.subscribe_all(self._on_change)
        for key, entries in storage.all_entries().items():
            for e in entries:
                if e.obj["metadata"].get("deletionTimestamp"):
                    self._queue_deleting(key, e.obj)

    def _on_change(self, key: str, etype: str, obj: dict, old: dict | None) -> None:
        if etype == "DELETED":
            uid = obj["metadata"].get("uid")
            if uid and self.storage.owns_any(uid):
                self._queue.put_nowait(("orphaned", uid))
            ns = obj["metadata"].get("namespace")
            if ns:
                namespace = self.storage.get("namespaces", None, ns)
                if namespace is not None and namespace["metadata"].get("deletionTimestamp"):
                    self._queue.put_nowait(("namespace", ns))
            for ref in obj["metadata"].get("ownerReferences") or []:
                self._queue.put_nowait(("owner", ref.get("uid")))
            return
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
        for res, dep in self.storage.dependents_of(uid):
            refs = dep["metadata"].get("ownerReferences") or []
            # a dependent with another live owner survives, as in the real collector
            others = [r for r in refs if r.get("uid") != uid and self._alive(r.get("uid"), dep)]
            if others:
                continue
            meta = dep["metadata"]
            try:
                self.api.delete(
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
            owner = self.storage.get(rt.key, dep["metadata"].get("namespace"), ref.get("name"))
            return (
                owner is not None
                and owner["metadata"].get("uid") == uid
                and not owner["metadata"].get("deletionTimestamp")
            )
        return False

    def _foreground(self, res: str, ns: str, name: str) -> None:
        obj = self.storage.get(res, ns, name)
        if obj is None:
            return
        uid = obj["metadata"]["uid"]
        deps = self.storage.dependents_of(uid)
        if deps:
            self._delete_dependents(uid, "Foreground")
            return  # finished when the last dependent is gone (an "owner" event)
        self._waiting.pop(uid, None)
        self.api.remove_finalizer(res, ns, name, "foregroundDeletion")

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
        for entry in list(self.storage.iter_entries("events")):
            ev = entry.obj
            stamp = (
                ev.get("lastTimestamp")
                or ev.get("eventTime")
                or ev["metadata"].get("creationTimestamp")
            )
            if stamp and _epoch(stamp) < cutoff:
                meta = ev["metadata"]
                self.api.delete("events", meta.get("namespace"), meta["name"])
                expired += 1
        return expired

    def _namespace(self, ns: str) -> None:
        namespace = self.storage.get("namespaces", None, ns)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for rt in STORED:
            if not rt.namespaced:
                continue
            for obj in self.storage.list(rt.key, ns):
                remaining += 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.api.delete(rt.key, ns, obj["metadata"]["name"], propagation="Background")
                except ApiError as err:
                    if err.code != 404:
                        log.warning(
                            "namespace %s: could not delete %s %s: %s",
                            ns,
                            rt.key,
                            obj["metadata"]["name"],
                            err,
                        )
        if remaining == 0 or not any(
            self.storage.list(rt.key, ns) for rt in STORED if rt.namespaced
        ):
            self.api.finish_namespace_deletion(ns)


def _epoch(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")  # unparseable: never expire it silently on a guess


def _rt_for(ref: dict):
    return for_api_version(ref.get("apiVersion", ""), ref.get("kind", ""))
