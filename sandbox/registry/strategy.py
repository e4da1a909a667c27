"""What the API server does to an object before storing it, as its per-kind strategies do
(PrepareForCreate/PrepareForUpdate, defaulting, Validate/ValidateUpdate): drop or carry over the
fields only the server sets, stamp identity and generation, default, then validate."""

from __future__ import annotations

import copy
import random
import uuid

from sandbox.machinery.errors import ApiError
from sandbox.machinery.resources import ResourceType
from sandbox.machinery.util import rfc3339
from sandbox.registry import defaults, validation

_NAME_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"
# metadata a client may send but only the server decides
_SET_ON_CREATE = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)
_KEPT_ON_UPDATE = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "generateName",
)


def for_create(rt: ResourceType, body: dict) -> dict:
    """A copy of body ready to be stored as a new object; raises 400 or 422."""
    obj = _with_type(rt, copy.deepcopy(body))
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise ApiError.bad_request("metadata must be an object")
    for drop in _SET_ON_CREATE:
        meta.pop(drop, None)
    if not rt.namespaced:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + "".join(random.choice(_NAME_SUFFIX) for _ in range(5))
    return obj


def admit_create(rt: ResourceType, obj: dict) -> None:
    """Identity, generation, defaults and validation of an object for_create() prepared, once
    its namespace is known to accept it."""
    meta = obj["metadata"]
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = rfc3339()
    if rt.generation:
        meta["generation"] = 1
    defaults.on_create(rt, obj)
    validation.validate(rt, obj, None)


def for_update(rt: ResourceType, body: dict, current: dict) -> dict:
    """A copy of body ready to replace current: server-set fields carried over, status kept
    (it changes only through the status subresource), defaulted, validated, generation bumped
    when anything but metadata and status changed."""
    obj = _with_type(rt, copy.deepcopy(body))
    meta = obj["metadata"]
    cur_meta = current["metadata"]
    for keep in _KEPT_ON_UPDATE:
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
    return obj


def for_status_update(rt: ResourceType, body: dict, current: dict) -> dict:
    """current with body's status and nothing else of body, validated."""
    new = dict(current)
    new["status"] = copy.deepcopy(body.get("status"))
    if new["status"] is None:
        new.pop("status")
    new["metadata"] = dict(current["metadata"])
    validation.validate_status(rt, new)
    return new


def deletion_grace(rt: ResourceType, current: dict, requested: int | None) -> int:
    """Seconds a deletion waits before the object goes: only a pod running on a node waits,
    for its kubelet to stop it (pods' CheckGracefulDelete)."""
    if rt.key != "pods":
        return 0
    spec = current.get("spec") or {}
    if not spec.get("nodeName") or (current.get("status") or {}).get("phase") in (
        "Succeeded",
        "Failed",
    ):
        return 0
    return spec.get("terminationGracePeriodSeconds", 30) if requested is None else requested


def awaits_kubelet(rt: ResourceType, obj: dict, current: dict) -> bool:
    """A bound pod in its grace period stays until its kubelet deletes it with grace 0."""
    return (
        rt.key == "pods"
        and bool((current.get("spec") or {}).get("nodeName"))
        and obj["metadata"].get("deletionGracePeriodSeconds", 0) > 0
    )


def _with_type(rt: ResourceType, obj: dict) -> dict:
    # kind and apiVersion first, as the real server serializes them
    out = {"kind": rt.kind, "apiVersion": rt.api_version()}
    out.update((k, v) for k, v in obj.items() if k not in ("kind", "apiVersion"))
    return out


def _spec_of(obj: dict) -> object:
    # generation counts changes to everything but metadata and status
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}
