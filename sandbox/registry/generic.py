"""The registry every write goes through, as the API server's generic registry store: the
namespace must accept new objects, the kind's strategy prepares, defaults and validates, stale
writes conflict, and deletion is graceful (pods on a node), deferred by finalizers, propagated
to dependents or orphaning them. Only then does storage see the object.

Controllers, the kubelet and the HTTP handlers all hold this object as their API; reads pass
straight through to storage.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime

from sandbox.machinery.errors import ApiError
from sandbox.machinery.events import EventRecorder
from sandbox.machinery.resources import BY_KEY, ResourceType, resolve
from sandbox.machinery.util import rfc3339
from sandbox.registry import strategy
from sandbox.storage.store import Store

_PROPAGATION = ("Foreground", "Background", "Orphan")


class Registry:
    def __init__(self, storage: Store) -> None:
        self.storage = storage
        self.events = EventRecorder(self)

    # ---- reads ----

    @property
    def resource_version(self) -> int:
        return self.storage.resource_version

    def get(self, res: str, ns: str | None, name: str) -> dict | None:
        return self.storage.get(res, ns, name)

    def list(
        self, res: str, ns: str | None = None, label_selector: str | dict | None = None
    ) -> list[dict]:
        return self.storage.list(res, ns, label_selector)

    def pods_on_node(self, node: str) -> list[dict]:
        return self.storage.pods_on_node(node)

    def subscribe(self, res: str, callback: Callable[[str, dict, dict | None], None]):
        return self.storage.subscribe(res, callback)

    # ---- writes ----

    def create(self, res: str, obj: dict, *, dry_run: bool = False) -> dict:
        rt = resolve(res)
        obj = strategy.for_create(rt, obj)
        meta = obj["metadata"]
        ns = meta.get("namespace", "") if rt.namespaced else ""
        self._require_namespace(rt, ns, meta.get("name", ""))
        strategy.admit_create(rt, obj)
        if self.storage.get(rt.key, ns, meta["name"]) is not None:
            raise ApiError.already_exists(rt, meta["name"])
        if dry_run:
            return obj
        return self.storage.insert(rt, obj)

    def update(self, res: str, obj: dict, *, dry_run: bool = False) -> dict:
        rt = resolve(res)
        current = self._current(rt, obj)
        return self._write(rt, strategy.for_update(rt, obj, current), current, dry_run=dry_run)

    def update_status(self, res: str, obj: dict, *, dry_run: bool = False) -> dict:
        rt = resolve(res)
        current = self._current(rt, obj)
        new = strategy.for_status_update(rt, obj, current)
        return self._write(rt, new, current, dry_run=dry_run)

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
        current = self.storage.get(rt.key, ns, name)
        if current is None:
            raise ApiError.not_found(rt, name)
        _check_preconditions(rt, current, preconditions)
        if propagation not in (None, *_PROPAGATION):
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
                return self.storage.remove(rt, current)
            if (
                rt.key == "pods"
                and grace_period_seconds is not None
                and (grace_period_seconds < meta.get("deletionGracePeriodSeconds", 0))
            ):
                return self._mark_deleting(rt, current, grace_period_seconds, None)
            return current
        finalizers = list(meta.get("finalizers") or [])
        grace = strategy.deletion_grace(rt, current, grace_period_seconds)
        if propagation == "Foreground":
            if "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            return self._mark_deleting(rt, current, grace, finalizers)
        if propagation == "Orphan":
            for dep_key, dep in self.storage.dependents_of(meta["uid"]):
                self._drop_owner(dep_key, dep, meta["uid"])
        if grace > 0:
            return self._mark_deleting(rt, current, grace, finalizers or None)
        if finalizers:
            return self._mark_deleting(rt, current, 0, finalizers)
        return self.storage.remove(rt, current)

    def finish_namespace_deletion(self, name: str) -> None:
        """Remove a Terminating namespace once garbage collection has emptied it."""
        current = self.storage.get("namespaces", None, name)
        if current is not None and current["metadata"].get("deletionTimestamp"):
            self.storage.remove(BY_KEY["namespaces"], current)

    def remove_finalizer(self, res: str, ns: str | None, name: str, finalizer: str) -> None:
        current = self.storage.get(res, ns, name)
        if current is None:
            return
        finalizers = [f for f in current["metadata"].get("finalizers") or [] if f != finalizer]
        new = dict(current)
        new["metadata"] = dict(current["metadata"], finalizers=finalizers)
        if not finalizers:
            new["metadata"].pop("finalizers")
        self._write(resolve(res), new, current, dry_run=False)

    def record_event(
        self, involved: dict, *, reason: str, message: str, type: str = "Normal", component: str
    ) -> None:
        self.events.record(involved, reason=reason, message=message, type=type, component=component)

    # ---- helpers ----

    def _require_namespace(self, rt: ResourceType, ns: str, name: str) -> None:
        """A namespaced object needs an existing namespace that is not being deleted."""
        if not rt.namespaced:
            return
        if not ns:
            raise ApiError.bad_request("the server could not find the requested resource")
        namespace = self.storage.get("namespaces", None, ns)
        if namespace is None:
            raise ApiError.not_found("namespaces", ns)
        if namespace.get("metadata", {}).get("deletionTimestamp"):
            raise ApiError.forbidden(
                f'{rt.key} "{name}" is forbidden: unable to create new content in namespace '
                f"{ns} because it is being terminated",
                {"name": ns, "kind": "namespaces"},
            )

    def _current(self, rt: ResourceType, obj: dict) -> dict:
        """The stored object a write replaces; 409 when the write names an older version."""
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
        current = self.storage.get(rt.key, meta.get("namespace"), meta["name"])
        if current is None:
            raise ApiError.not_found(rt, meta["name"])
        rv = meta.get("resourceVersion")
        if rv and str(rv) != current["metadata"]["resourceVersion"]:
            raise ApiError.conflict(rt, meta["name"])
        return current

    def _write(self, rt: ResourceType, obj: dict, current: dict, *, dry_run: bool) -> dict:
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if obj == current:
            return current  # a no-op write does not bump the resourceVersion
        if dry_run:
            return obj
        meta = obj["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not strategy.awaits_kubelet(rt, obj, current)
        ):
            # the last finalizer is gone: the deletion completes now
            return self.storage.remove(rt, current, last=obj)
        return self.storage.replace(rt, obj, current)

    def _mark_deleting(
        self, rt: ResourceType, current: dict, grace: int, finalizers: list[str] | None
    ) -> dict:
        new = dict(current)
        meta = dict(current["metadata"])
        meta["deletionTimestamp"] = meta.get("deletionTimestamp") or _ts_after(grace)
        meta["deletionGracePeriodSeconds"] = grace
        if finalizers is not None:
            meta["finalizers"] = finalizers
        new["metadata"] = meta
        return self.storage.replace(rt, new, current)

    def _begin_namespace_deletion(self, rt: ResourceType, current: dict) -> dict:
        if current["metadata"].get("deletionTimestamp"):
            return current
        new = copy.deepcopy(current)
        new["metadata"]["deletionTimestamp"] = rfc3339()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new.setdefault("status", {})["phase"] = "Terminating"
        return self.storage.replace(rt, new, current)

    def _drop_owner(self, dep_key: str, dep: dict, owner_uid: str) -> None:
        new = dict(dep)
        refs = [
            r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
        ]
        new["metadata"] = dict(dep["metadata"], ownerReferences=refs)
        if not refs:
            new["metadata"].pop("ownerReferences")
        self._write(resolve(dep_key), new, dep, dry_run=False)


def _check_preconditions(rt: ResourceType, current: dict, preconditions: dict | None) -> None:
    if not preconditions:
        return
    meta = current["metadata"]
    if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
        raise ApiError.conflict(
            rt,
            meta["name"],
            f"Precondition failed: UID in precondition: {preconditions['uid']}, UID in "
            f"object meta: {meta['uid']}",
        )
    p_rv = preconditions.get("resourceVersion")
    if p_rv and str(p_rv) != meta["resourceVersion"]:
        raise ApiError.conflict(rt, meta["name"])


def _ts_after(seconds: int) -> str:
    return rfc3339(datetime.now(UTC).timestamp() + max(0, seconds))
