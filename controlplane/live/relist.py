"""Building a fresh list of a (cluster, kind) in the cache without holding it in memory.

Objects are compacted and written to temporary keys as the list's pages arrive (a thousand at
a time); commit() swaps them in with the meta in one MULTI (readers see the old complete state
or the new one, never a mixture) and then compares the old objects, swapped out under a
temporary name, with the new ones in batches. At 30,000 pods and five events per pod the
watcher thus holds a page of objects and the list's keys, never the list.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .cache import CHUNK, Entry
from .tallies import decode_contributions

if TYPE_CHECKING:
    from .cache import LiveCache

# Orphans of a watcher that died mid-build disappear by themselves.
_ORPHAN_SECONDS = 600


@dataclass
class Relist:
    """What a relist changed: every change (type, stored JSON) while there were at most
    `max_changes`, else None; and the namespaces of the objects before and after."""

    list_id: str
    changes: list[tuple[str, str]] | None
    namespaces: set[str]


class RelistBuilder:
    def __init__(self, cache: LiveCache, cluster: str, kind: str):
        self.cache = cache
        self.client = cache.client
        self.kind = kind
        self.list_id = uuid.uuid4().hex
        self.final = cache.keys(cluster, kind)
        objects, meta, contrib, tally, order = self.final
        self.meta_key, self.tally_key = meta, tally
        self.temp = {key: f"{key}:relist:{self.list_id}" for key in (objects, contrib, order)}
        self.previous = f"{objects}:previous:{self.list_id}"
        self.keys: set[str] = set()
        self.tallies: Counter = Counter()
        self.filled: set[str] = set()
        self._pending: list[tuple[str, Entry]] = []

    def add(self, obj: dict) -> None:
        """One listed object as the API server sent it (list_objects' transform)."""
        self.add_entry(*self.cache.entry(self.kind, obj))

    def add_entry(self, key: str, entry: Entry) -> None:
        self._pending.append((key, entry))
        self.keys.add(key)
        if len(self._pending) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        objects_key, _meta, contrib_key, _tally, order_key = self.final
        chunk, self._pending = self._pending, []
        if not chunk:
            return
        counters = {key: c for key, (_r, c, _s) in chunk if c}
        order = {key: s for key, (_r, _c, s) in chunk if s is not None}
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.temp[objects_key], mapping={key: raw for key, (raw, _c, _s) in chunk})
        self.filled.add(objects_key)
        if counters:
            pipe.hset(self.temp[contrib_key], mapping=counters)
            self.filled.add(contrib_key)
        if order:
            pipe.zadd(self.temp[order_key], order)
            self.filled.add(order_key)
        for key in self.temp.values():
            pipe.expire(key, _ORPHAN_SECONDS)
        pipe.execute()
        for text in counters.values():
            self.tallies.update(decode_contributions(text))

    def commit(self, resource_version: str, *, max_changes: int = 0) -> Relist:
        """Swap the new list in, atomically; then say what changed."""
        self._flush()
        objects_key = self.final[0]
        tallies = {k: v for k, v in self.tallies.items() if v}
        tally_temp = f"{self.tally_key}:relist:{self.list_id}"
        if tallies:
            self.client.hset(tally_temp, mapping=tallies)
            self.client.expire(tally_temp, _ORPHAN_SECONDS)
        had_objects = bool(self.client.exists(objects_key))
        with self.client.pipeline(transaction=True) as tx:
            if had_objects:
                tx.rename(objects_key, self.previous)
                tx.expire(self.previous, _ORPHAN_SECONDS)
            for key, temp_key in [*self.temp.items(), (self.tally_key, tally_temp)]:
                if key in self.filled or (key == self.tally_key and tallies):
                    tx.rename(temp_key, key)
                    tx.persist(key)
                else:
                    tx.delete(key)
            tx.hset(
                self.meta_key,
                mapping={
                    "resource_version": resource_version,
                    "synced": "1",
                    "synced_at": time.time(),
                    "count": len(self.keys),
                    "list_id": self.list_id,
                },
            )
            tx.execute()
        return self._compare(had_objects, max_changes)

    def _compare(self, had_objects: bool, max_changes: int) -> Relist:
        changes: list[tuple[str, str]] | None = []
        seen: set[str] = set()

        def record(change: tuple[str, str]) -> None:
            nonlocal changes
            if changes is not None:
                changes.append(change)
                if len(changes) > max_changes:
                    changes = None

        if had_objects:
            batch: list[tuple[str, str]] = []
            for item in self.client.hscan_iter(self.previous, count=CHUNK):
                batch.append(item)
                if len(batch) >= CHUNK:
                    self._compare_batch(batch, seen, record)
                    batch = []
            self._compare_batch(batch, seen, record)
            self.client.unlink(self.previous)
        added = [key for key in self.keys if key not in seen]
        if added and changes is not None:
            if len(changes) + len(added) > max_changes:
                changes = None
            else:
                for raw in self.client.hmget(self.final[0], added):
                    if raw is not None:
                        record(("ADDED", raw))
        namespaces = {key.split("/", 1)[0] for key in (*self.keys, *seen)} - {""}
        return Relist(list_id=self.list_id, changes=changes, namespaces=namespaces)

    def _compare_batch(self, batch: list[tuple[str, str]], seen: set[str], record) -> None:
        if not batch:
            return
        keys = [key for key, _raw in batch]
        seen.update(keys)
        current = self.client.hmget(self.final[0], keys)
        for (_key, old), new in zip(batch, current, strict=True):
            if new is None:
                record(("DELETED", old))
            elif new != old:
                record(("MODIFIED", new))
