"""Secondary indexes the store keeps on every write, so nothing has to scan all pods to find
those on a node, or all objects to find the dependents of an owner."""

from __future__ import annotations

Key = tuple[str, str, str]  # resource key, namespace, name


class NodeIndex:
    """Pods by spec.nodeName (the kubelet's and the field selector's view of a node)."""

    def __init__(self) -> None:
        self._pods: dict[str, dict[tuple[str, str], None]] = {}

    def pods(self, node: str) -> list[tuple[str, str]]:
        return list(self._pods.get(node, ()))

    def update(self, new: dict | None, old: dict | None) -> None:
        old_node = (old or {}).get("spec", {}).get("nodeName")
        new_node = (new or {}).get("spec", {}).get("nodeName")
        if old_node == new_node and new is not None:
            return
        ref = old or new
        assert ref is not None
        key = (ref["metadata"].get("namespace", ""), ref["metadata"]["name"])
        if old_node:
            on = self._pods.get(old_node)
            if on is not None:
                on.pop(key, None)
                if not on:
                    del self._pods[old_node]
        if new_node and new is not None:
            self._pods.setdefault(new_node, {})[key] = None


class OwnerIndex:
    """Dependents by the uid of each of their ownerReferences (garbage collection, orphaning)."""

    def __init__(self) -> None:
        self._dependents: dict[str, dict[Key, None]] = {}

    def dependents(self, uid: str) -> list[Key]:
        return list(self._dependents.get(uid, ()))

    def owns_any(self, uid: str) -> bool:
        return uid in self._dependents

    def update(self, res: str, new: dict | None, old: dict | None) -> None:
        new_refs = _owner_uids(new)
        old_refs = _owner_uids(old)
        if new_refs == old_refs and new is not None:
            return
        ref = new or old
        assert ref is not None
        key = (res, ref["metadata"].get("namespace", ""), ref["metadata"]["name"])
        for uid in old_refs - new_refs:
            deps = self._dependents.get(uid)
            if deps is not None:
                deps.pop(key, None)
                if not deps:
                    del self._dependents[uid]
        for uid in new_refs - old_refs:
            self._dependents.setdefault(uid, {})[key] = None


def _owner_uids(obj: dict | None) -> set[str]:
    return {r.get("uid") for r in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []}
