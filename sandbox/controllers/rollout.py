"""The arithmetic of a Deployment rollout, after kubernetes/pkg/controller/deployment/util.

Pure functions over plain dicts so each rule can be read (and tested) on its own: the pod
template hash, maxSurge/maxUnavailable fenceposts, how far a new ReplicaSet may grow, and the
revision bookkeeping `kubectl rollout history/undo` relies on.
"""

from __future__ import annotations

import copy
import json
import math

from sandbox.machinery.util import int_or_percent

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
# Annotations of the Deployment that are not copied onto its ReplicaSets.
_NOT_COPIED = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
}
# rand.SafeEncodeString's alphabet: no vowels (no words) and no look-alike characters.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def template_hash(template: dict, collision_count: int | None) -> str:
    """A stable, short, DNS-safe hash of the pod template, as ComputeHash does.

    Upstream hashes Go's printed form of the struct; the canonical JSON of the (already
    defaulted) template is the equivalent stable rendering here.
    """
    data = json.dumps(_without_hash(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(_fnv32a(data)))


def _without_hash(template: dict) -> dict:
    labels = (template.get("metadata") or {}).get("labels") or {}
    if HASH_LABEL not in labels:
        return template
    stripped = copy.deepcopy(template)
    del stripped["metadata"]["labels"][HASH_LABEL]
    return stripped


def templates_equal(a: dict, b: dict) -> bool:
    """EqualIgnoreHash: equal once the pod-template-hash label is dropped from both."""
    return _normal(_without_hash(a)) == _normal(_without_hash(b))


def _normal(template: dict) -> dict:
    # An empty labels/annotations map and a missing one are the same template.
    meta = dict(template.get("metadata") or {})
    for key in ("labels", "annotations"):
        if not meta.get(key):
            meta.pop(key, None)
    meta.pop("creationTimestamp", None)
    return {**template, "metadata": meta}


def replicas(obj: dict | None) -> int:
    if obj is None:
        return 0
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_count(obj: dict | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def revision(rs: dict) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def is_rolling(d: dict) -> bool:
    return ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def fenceposts(d: dict) -> tuple[int, int]:
    """ResolveFenceposts: (maxSurge, maxUnavailable); both zero would deadlock, so 1 unavailable."""
    rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(d)
    surge = int_or_percent(
        rolling.get("maxSurge", "25%"),
        desired,
        round_up=True,
        field="spec.strategy.rollingUpdate.maxSurge",
    )
    unavailable = int_or_percent(
        rolling.get("maxUnavailable", "25%"),
        desired,
        round_up=False,
        field="spec.strategy.rollingUpdate.maxUnavailable",
    )
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: dict) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: dict) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(fenceposts(d)[1], replicas(d))


def new_rs_new_replicas(d: dict, all_rss: list[dict], new_rs: dict) -> int:
    """How many replicas the new ReplicaSet may have now (NewRSNewReplicas)."""
    if not is_rolling(d):
        return replicas(d)
    current = sum(replicas(rs) for rs in all_rss)
    max_total = replicas(d) + max_surge(d)
    if current >= max_total:
        return replicas(new_rs)
    scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
    return replicas(new_rs) + max(scale_up, 0)


def deployment_complete(d: dict, status: dict) -> bool:
    want = replicas(d)
    return (
        status.get("updatedReplicas", 0) == want
        and status.get("replicas", 0) == want
        and status.get("availableReplicas", 0) == want
        and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)
    )


def deployment_progressing(d: dict, new_status: dict) -> bool:
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new_status.get("replicas", 0) - new_status.get("updatedReplicas", 0)
    return (
        new_status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
        or new_old < old_old
        or new_status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
        or new_status.get("availableReplicas", 0) > old.get("availableReplicas", 0)
    )


def copy_annotations(d: dict, rs: dict) -> bool:
    """Copy the Deployment's annotations (change-cause above all) onto the ReplicaSet."""
    changed = False
    rs_ann = rs["metadata"].setdefault("annotations", {})
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key in _NOT_COPIED or rs_ann.get(key) == value:
            continue
        rs_ann[key] = value
        changed = True
    return changed


def set_replicas_annotations(d: dict, rs: dict) -> bool:
    ann = rs["metadata"].setdefault("annotations", {})
    want = {DESIRED_REPLICAS: str(replicas(d)), MAX_REPLICAS: str(replicas(d) + max_surge(d))}
    changed = any(ann.get(k) != v for k, v in want.items())
    ann.update(want)
    return changed


def set_new_rs_revision(rs: dict, new_revision: int) -> bool:
    """Move the RS to new_revision, remembering the one it had in revision-history."""
    ann = rs["metadata"].setdefault("annotations", {})
    old = ann.get(REVISION)
    if old is not None and int(old or 0) >= new_revision:
        return False
    if old:
        history = [h for h in (ann.get(REVISION_HISTORY) or "").split(",") if h]
        history.append(old)
        ann[REVISION_HISTORY] = ",".join(history)
    ann[REVISION] = str(new_revision)
    return True


def rs_fraction(rs: dict, d: dict) -> int:
    """getReplicaSetFraction: this RS's share of a scaling event, from max-replicas."""
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = (rs["metadata"].get("annotations") or {}).get(MAX_REPLICAS)
    try:
        annotated_replicas = int(annotated) if annotated else status_count(d, "replicas")
    except ValueError:
        annotated_replicas = status_count(d, "replicas")
    if annotated_replicas <= 0:
        return 0
    # integer.RoundToInt32: round half away from zero (sizes are never negative here).
    new_size = math.floor(replicas(rs) * deployment_replicas / annotated_replicas + 0.5)
    return new_size - replicas(rs)
