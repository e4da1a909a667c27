"""Informer-like caches: the latest copy of every object of a resource, with secondary indexes.

Controllers must not scan 30,000 pods to find the five a ReplicaSet owns, so the pods (and
ReplicaSets) are indexed by controlling owner uid, by node and by namespace, updated
synchronously from store events. Cached objects are the store's own dicts: read, never mutate.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from sandbox.machinery.util import controller_ref

Key = tuple[str, str]
IndexFunc = Callable[[dict], Iterable[Hashable]]


class Cache:
    def __init__(self, api: Any, resource: str, indexes: dict[str, IndexFunc]) -> None:
        self.resource = resource
        self.objects: dict[Key, dict] = {}
        self._index_funcs = indexes
        self._indexes: dict[str, dict[Hashable, set[Key]]] = {name: {} for name in indexes}
        self._unsubscribe = api.subscribe(resource, self._on_event)
        for obj in api.list(resource):
            self._put(obj)

    def close(self) -> None:
        self._unsubscribe()

    def get(self, ns: str, name: str) -> dict | None:
        return self.objects.get((ns, name))

    def keys_by(self, index: str, value: Hashable) -> set[Key]:
        return self._indexes[index].get(value, set())

    def by(self, index: str, value: Hashable) -> list[dict]:
        objects = self.objects
        return [objects[k] for k in self._indexes[index].get(value, ()) if k in objects]

    def _on_event(self, event_type: str, obj: dict, old: dict | None) -> None:
        if event_type == "DELETED":
            self._remove(_key(obj))
        else:
            self._put(obj)

    def _put(self, obj: dict) -> None:
        key = _key(obj)
        if key in self.objects:
            self._unindex(key)
        self.objects[key] = obj
        for name, func in self._index_funcs.items():
            index = self._indexes[name]
            for value in func(obj):
                index.setdefault(value, set()).add(key)

    def _remove(self, key: Key) -> None:
        if key in self.objects:
            self._unindex(key)
            del self.objects[key]

    def _unindex(self, key: Key) -> None:
        obj = self.objects[key]
        for name, func in self._index_funcs.items():
            index = self._indexes[name]
            for value in func(obj):
                bucket = index.get(value)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del index[value]


def _key(obj: dict) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


def by_owner(obj: dict) -> list[str]:
    ref = controller_ref(obj)
    return [ref["uid"]] if ref and ref.get("uid") else []


def by_node(obj: dict) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


def by_namespace(obj: dict) -> list[str]:
    return [obj["metadata"].get("namespace") or ""]


def by_label(obj: dict) -> list[tuple[str, str, str]]:
    ns = obj["metadata"].get("namespace") or ""
    return [(ns, k, v) for k, v in (obj["metadata"].get("labels") or {}).items()]


class Caches:
    """The caches every controller shares, built once per cluster."""

    def __init__(self, api: Any) -> None:
        self.pods = Cache(
            api,
            "pods",
            {"owner": by_owner, "node": by_node, "namespace": by_namespace, "label": by_label},
        )
        self.replicasets = Cache(
            api, "replicasets.apps", {"owner": by_owner, "namespace": by_namespace}
        )
        self.services = Cache(api, "services", {"namespace": by_namespace})
        self.endpoints = Cache(api, "endpoints", {"namespace": by_namespace})
        self.nodes = Cache(api, "nodes", {})

    def pods_with_labels(self, ns: str, labels: dict[str, str]) -> list[dict]:
        """Pods in ns carrying every label in `labels`, starting from the rarest label's index."""
        if not labels:
            return self.pods.by("namespace", ns)
        buckets = [self.pods.keys_by("label", (ns, k, v)) for k, v in labels.items()]
        smallest = min(buckets, key=len)
        objects = self.pods.objects
        out = []
        for key in smallest:
            pod = objects.get(key)
            if pod is None:
                continue
            pod_labels = pod["metadata"].get("labels") or {}
            if all(pod_labels.get(k) == v for k, v in labels.items()):
                out.append(pod)
        return out

    def close(self) -> None:
        for cache in (self.pods, self.replicasets, self.services, self.endpoints, self.nodes):
            cache.close()
