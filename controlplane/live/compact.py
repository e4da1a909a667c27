"""What the watcher's cache keeps of each object: what pages read, not the whole object.

Every kind loses managedFields and kubectl's last-applied copy (bookkeeping no page shows, and
often the larger half of an object). Pods, by far the most numerous kind, keep only the fields
that pages and summaries read: identity, labels and owners, where the pod runs and what it
requests, and its state down to each container's reason and restart count. Environment,
volumes, probes, commands and the rest of the spec stay in the cluster (the deployment page's
YAML is the deployment's own, which is kept whole). Every reader of cached pods
(controlplane.dashboard.summaries, deployments.rollouts, deployments.selectors_detail,
trainer.sync) gets the fields it uses; tests/controlplane/test_live_compact.py checks them.
"""

from __future__ import annotations

import json

DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

_POD_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
)
_OWNER = ("apiVersion", "kind", "name", "uid", "controller")
_POD_SPEC = (
    "nodeName",
    "nodeSelector",
    "tolerations",
    "restartPolicy",
    "schedulerName",
    "priorityClassName",
    "serviceAccountName",
    "overhead",
)
_CONTAINER = ("name", "image", "resources", "ports")
_POD_STATUS = (
    "phase",
    "reason",
    "message",
    "startTime",
    "podIP",
    "hostIP",
    "qosClass",
    "nominatedNodeName",
)
_CONDITION = ("type", "status", "reason", "message", "lastTransitionTime")
_CONTAINER_STATUS = (
    "name",
    "ready",
    "started",
    "restartCount",
    "state",
    "lastState",
    "image",
    "imageID",
    "containerID",
)


def _pick(source: dict | None, names: tuple[str, ...]) -> dict:
    source = source or {}
    return {name: source[name] for name in names if name in source}


def _metadata(obj: dict) -> dict:
    metadata = dict(obj.get("metadata") or {})
    metadata.pop("managedFields", None)
    annotations = metadata.get("annotations")
    if annotations and any(name in annotations for name in DROPPED_ANNOTATIONS):
        metadata["annotations"] = {
            k: v for k, v in annotations.items() if k not in DROPPED_ANNOTATIONS
        }
    return metadata


def trim(obj: dict) -> dict:
    """Any kind without the bookkeeping: managedFields, last-applied copies."""
    trimmed = dict(obj)
    trimmed["metadata"] = _metadata(obj)
    return trimmed


def compact_pod(pod: dict) -> dict:
    metadata = _pick(_metadata(pod), _POD_METADATA)
    if "ownerReferences" in metadata:
        metadata["ownerReferences"] = [_pick(r, _OWNER) for r in metadata["ownerReferences"]]
    spec_in = pod.get("spec") or {}
    spec = _pick(spec_in, _POD_SPEC)
    for field in ("containers", "initContainers"):
        if field in spec_in:
            spec[field] = [_pick(c, _CONTAINER) for c in spec_in[field] or []]
    status_in = pod.get("status") or {}
    status = _pick(status_in, _POD_STATUS)
    if "conditions" in status_in:
        status["conditions"] = [_pick(c, _CONDITION) for c in status_in["conditions"] or []]
    for field in ("containerStatuses", "initContainerStatuses"):
        if field in status_in:
            status[field] = [_pick(c, _CONTAINER_STATUS) for c in status_in[field] or []]
    compact = {"metadata": metadata, "spec": spec, "status": status}
    for field in ("apiVersion", "kind"):
        if field in pod:
            compact[field] = pod[field]
    return compact


_COMPACTORS = {"pods": compact_pod}


def compact(kind: str, obj: dict) -> dict:
    """What the cache keeps of `obj`, a `kind` object as the API server sent it."""
    return _COMPACTORS.get(kind, trim)(obj)


def encode(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"))
