"""Pure computations on a Deployment, its ReplicaSets and pods: where a rollout stands, why it
is stuck, the revision history, the difference between two revisions, and the change that
`kubectl set image` / `kubectl rollout undo` / `kubectl rollout restart` would make.

No I/O: the kube layer fetches, the services and selectors decide what to do with these.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"

# Annotations `kubectl rollout undo` keeps from the Deployment instead of taking the
# revision's (annotationsToSkip in kubectl's rollback.go).
UNDO_SKIPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)

# Pod-level reasons that keep a new ReplicaSet's pods from ever becoming ready.
STUCK_WAITING_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "CrashLoopBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)

CHANGE_CAUSE_MAX = 1024

# A container image reference as the distribution spec writes it (reference.go's grammar):
# [registry[:port]/]path[:tag][@digest], lower case path components.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"  # noqa: E501
_IMAGE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
)
IMAGE_MAX = 4096


def image_problem(value: object) -> str | None:
    """Why `value` is not an image reference a kubelet could pull, or None when it is."""
    if not isinstance(value, str) or not value:
        return "An image reference is required."
    if len(value) > IMAGE_MAX:
        return f"Ensure this value has at most {IMAGE_MAX} characters."
    if value != value.strip() or not _IMAGE.fullmatch(value):
        return (
            f"{value!r} is not a valid image reference "
            "([registry/]name[:tag][@digest], lower-case name)."
        )
    return None


# Templates --------------------------------------------------------------------------------


def template_normal(template: dict) -> dict:
    """The pod template without the pod-template-hash label and empty maps (EqualIgnoreHash)."""
    template = copy.deepcopy(template or {})
    meta = template.setdefault("metadata", {})
    labels = meta.get("labels") or {}
    labels.pop(HASH_LABEL, None)
    for key in ("labels", "annotations"):
        if not meta.get(key):
            meta.pop(key, None)
    meta.pop("creationTimestamp", None)
    if not meta:
        template.pop("metadata")
    return template


def template_digest(template: dict) -> str:
    """A digest of the normalised template: joins a ReplicaSet to the action that wrote it."""
    data = json.dumps(template_normal(template), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def template_images(template: dict) -> dict[str, str]:
    """{container name: image}, init containers too (prefixed "init:")."""
    spec = (template or {}).get("spec") or {}
    images = {c.get("name", ""): c.get("image", "") for c in spec.get("containers") or []}
    for c in spec.get("initContainers") or []:
        images[f"init:{c.get('name', '')}"] = c.get("image", "")
    return images


def container_names(deployment: dict) -> list[str]:
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c.get("name", "") for c in spec.get("containers") or []]


def images_set(deployment: dict, *, images: dict[str, str], change_cause: str) -> dict:
    """The Deployment with new container images and its change-cause (`kubectl set image`).

    Raises KeyError naming a container the template does not have.
    """
    updated = copy.deepcopy(deployment)
    containers = updated["spec"]["template"]["spec"]["containers"]
    by_name = {c.get("name"): c for c in containers}
    for name, image in images.items():
        if name not in by_name:
            raise KeyError(name)
        by_name[name]["image"] = image
    annotations = updated["metadata"].setdefault("annotations", {}) or {}
    updated["metadata"]["annotations"] = annotations
    if change_cause:
        annotations[CHANGE_CAUSE] = change_cause
    else:
        # A change-cause left over from the previous rollout would describe this one wrongly.
        annotations.pop(CHANGE_CAUSE, None)
    return updated


def revision_restore(deployment: dict, replicaset: dict) -> dict:
    """The Deployment as `kubectl rollout undo --to-revision` leaves it (rollback.go): the
    revision's pod template without the hash label, the revision's annotations (change-cause
    above all) except the controller's bookkeeping, which stays the Deployment's."""
    updated = copy.deepcopy(deployment)
    template = copy.deepcopy((replicaset.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    updated["spec"]["template"] = template
    current = (deployment.get("metadata") or {}).get("annotations") or {}
    annotations = {k: v for k, v in current.items() if k in UNDO_SKIPPED_ANNOTATIONS}
    for key, value in ((replicaset.get("metadata") or {}).get("annotations") or {}).items():
        if key not in UNDO_SKIPPED_ANNOTATIONS:
            annotations[key] = value
    updated["metadata"]["annotations"] = annotations
    return updated


# ReplicaSets and revisions ----------------------------------------------------------------


def revision_of(obj: dict) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, 0))
    except (TypeError, ValueError):
        return 0


def new_replicaset(deployment: dict, replicasets: list[dict]) -> dict | None:
    """The ReplicaSet whose template is the Deployment's (FindNewReplicaSet), oldest first."""
    wanted = template_normal((deployment.get("spec") or {}).get("template") or {})
    ordered = sorted(replicasets, key=lambda rs: rs["metadata"].get("creationTimestamp") or "")
    for rs in ordered:
        if template_normal((rs.get("spec") or {}).get("template") or {}) == wanted:
            return rs
    return None


def replicaset_for_revision(replicasets: list[dict], revision: int) -> dict | None:
    for rs in replicasets:
        if revision_of(rs) == revision:
            return rs
    return None


def previous_revision(deployment: dict, replicasets: list[dict]) -> int | None:
    """The revision `kubectl rollout undo` (no --to-revision) goes back to: the newest one
    below the current one."""
    current = revision_of(deployment)
    below = sorted({revision_of(rs) for rs in replicasets if 0 < revision_of(rs) < current})
    return below[-1] if below else None


def _count(obj: dict | None, field: str, where: str = "status") -> int:
    if obj is None:
        return 0
    return int(((obj.get(where) or {}).get(field)) or 0)


def _replicaset_summary(rs: dict) -> dict:
    template = (rs.get("spec") or {}).get("template") or {}
    return {
        "name": rs["metadata"].get("name", ""),
        "revision": revision_of(rs),
        "images": template_images(template),
        "desired": _count(rs, "replicas", "spec"),
        "current": _count(rs, "replicas"),
        "ready": _count(rs, "readyReplicas"),
        "available": _count(rs, "availableReplicas"),
    }


def revision_list(
    deployment: dict, replicasets: list[dict], actions_by_digest: dict[str, dict]
) -> list[dict]:
    """Every revision still kept (one per ReplicaSet), newest first, with who made it here.

    `actions_by_digest` maps a template digest to the latest successful action that wrote
    that template ({"id", "actor", "verb", "finished"}).
    """
    current = revision_of(deployment)
    rows = []
    for rs in replicasets:
        number = revision_of(rs)
        if number <= 0:
            continue
        meta = rs.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        template = (rs.get("spec") or {}).get("template") or {}
        history = [
            int(n) for n in (annotations.get(REVISION_HISTORY) or "").split(",") if n.isdigit()
        ]
        rows.append(
            {
                "revision": number,
                "earlier_revisions": history,
                "replicaset": meta.get("name", ""),
                "images": template_images(template),
                "change_cause": annotations.get(CHANGE_CAUSE, ""),
                "created": meta.get("creationTimestamp"),
                "current": number == current,
                "replicas": _count(rs, "replicas"),
                "action": actions_by_digest.get(template_digest(template)),
            }
        )
    return sorted(rows, key=lambda row: -row["revision"])


def _flatten(value, path: str, out: dict) -> None:
    if isinstance(value, dict):
        if not value and path:
            out[path] = value
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        # Containers, env, ports ... are keyed by name where they have one, as kubectl merges.
        named = value and all(isinstance(i, dict) and "name" in i for i in value)
        if not value:
            out[path] = value
        for index, item in enumerate(value):
            key = f"[{item['name']}]" if named else f"[{index}]"
            _flatten(item, f"{path}{key}", out)
    else:
        out[path] = value


def template_diff(a: dict, b: dict) -> list[dict]:
    """Field-by-field changes from template `a` to `b` ({"path", "before", "after"}), in order."""
    left: dict = {}
    right: dict = {}
    _flatten(template_normal(a), "", left)
    _flatten(template_normal(b), "", right)
    changes = []
    for path in sorted(set(left) | set(right)):
        before, after = left.get(path), right.get(path)
        if before != after:
            changes.append({"path": path, "before": before, "after": after})
    return changes


# Rollout state ----------------------------------------------------------------------------


def _condition(deployment: dict, kind: str) -> dict | None:
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def _pod_summary(pod: dict, rs_revisions: dict[str, int]) -> dict:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    owner = next(
        (r.get("name") for r in meta.get("ownerReferences") or [] if r.get("controller")), ""
    )
    reason, message = "", ""
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            reason, message = waiting["reason"], waiting.get("message", "")
            break
    if not reason:
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                reason = condition.get("reason") or "Unschedulable"
                message = condition.get("message", "")
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    return {
        "name": meta.get("name", ""),
        "replicaset": owner,
        "revision": rs_revisions.get(owner, 0),
        "phase": status.get("phase", ""),
        "ready": ready,
        "terminating": bool(meta.get("deletionTimestamp")),
        "reason": reason,
        "message": message,
        "restarts": sum(
            int(cs.get("restartCount") or 0) for cs in status.get("containerStatuses") or []
        ),
        "created": meta.get("creationTimestamp"),
    }


def stuck_reasons(new_rs: dict | None, pods: list[dict]) -> list[dict]:
    """Why the new ReplicaSet's pods cannot become ready, one entry per distinct reason."""
    if new_rs is None:
        return []
    name = new_rs["metadata"].get("name")
    found: dict[str, dict] = {}
    for pod in pods:
        summary = _pod_summary(pod, {})
        if summary["replicaset"] != name or summary["terminating"]:
            continue
        reason = summary["reason"]
        if reason in STUCK_WAITING_REASONS or reason == "Unschedulable":
            entry = found.setdefault(
                reason, {"reason": reason, "message": summary["message"], "pods": []}
            )
            entry["pods"].append(summary["name"])
    return list(found.values())


def rollout_state(deployment: dict, replicasets: list[dict], pods: list[dict]) -> dict:
    """Where the rollout stands, as `kubectl rollout status` judges it, with the counts of
    the new and old ReplicaSets, every pod, and the pod-level reason when it is stuck.

    state: paused | failed (a ReplicaSet cannot create pods) | stuck (the progress deadline
    passed, or new pods wait on an image pull, a crash loop or scheduling) | progressing |
    complete.
    """
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    desired = int(spec.get("replicas", 1) or 0)
    new_rs = new_replicaset(deployment, replicasets)
    old = [
        rs
        for rs in replicasets
        if rs is not new_rs and _count(rs, "replicas", "spec") + _count(rs, "replicas") > 0
    ]
    rs_revisions = {rs["metadata"].get("name"): revision_of(rs) for rs in replicasets}
    total = sum(_count(rs, "replicas") for rs in replicasets)
    available = _count(deployment, "availableReplicas")
    updated = _count(deployment, "updatedReplicas")
    observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    progressing = _condition(deployment, "Progressing") or {}
    replica_failure = _condition(deployment, "ReplicaFailure") or {}
    reasons = stuck_reasons(new_rs, pods)
    deadline_exceeded = progressing.get("reason") == "ProgressDeadlineExceeded"
    complete = (
        observed
        and updated >= desired
        and _count(deployment, "replicas") <= updated
        and available >= updated
    )
    message = ""
    if spec.get("paused"):
        state = "paused"
        message = "The rollout is paused; resume it to continue."
    elif complete:
        state = "complete"
        message = f"{updated} of {desired} updated replicas are available."
    elif replica_failure.get("status") == "True":
        state = "failed"
        message = replica_failure.get("message", "")
        reasons = [
            {
                "reason": replica_failure.get("reason", "ReplicaFailure"),
                "message": message,
                "pods": [],
            },
            *reasons,
        ]
    elif deadline_exceeded or reasons:
        state = "stuck"
        if deadline_exceeded:
            reasons = [
                *reasons,
                {
                    "reason": "ProgressDeadlineExceeded",
                    "message": progressing.get("message", ""),
                    "pods": [],
                },
            ]
        message = "; ".join(f"{r['reason']}: {r['message']}".rstrip(": ") for r in reasons)
    else:
        state = "progressing"
        if not observed:
            message = "Waiting for the deployment spec update to be observed."
        elif updated < desired:
            message = f"{updated} of {desired} new replicas have been updated."
        elif _count(deployment, "replicas") > updated:
            message = (
                f"{_count(deployment, 'replicas') - updated} old replicas are pending termination."
            )
        else:
            message = f"{available} of {updated} updated replicas are available."
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    return {
        "state": state,
        "reason": reasons[0]["reason"] if state in ("stuck", "failed") and reasons else "",
        "message": message,
        "reasons": reasons if state in ("stuck", "failed") else [],
        "revision": revision_of(deployment),
        "paused": bool(spec.get("paused")),
        "generation": int(meta.get("generation") or 0),
        "observed_generation": int(status.get("observedGeneration") or 0),
        "replicas": {
            "desired": desired,
            "current": _count(deployment, "replicas"),
            "updated": updated,
            "ready": _count(deployment, "readyReplicas"),
            "available": available,
            "unavailable": max(desired - available, 0),
            # Pods above the desired count while old and new run side by side.
            "surge": max(total - desired, 0),
        },
        "strategy": {
            "type": strategy.get("type", "RollingUpdate"),
            "max_surge": str(rolling.get("maxSurge", "")),
            "max_unavailable": str(rolling.get("maxUnavailable", "")),
        },
        "new_replicaset": _replicaset_summary(new_rs) if new_rs is not None else None,
        "old_replicasets": [
            _replicaset_summary(rs) for rs in sorted(old, key=lambda rs: -revision_of(rs))
        ],
        "pods": sorted(
            (_pod_summary(pod, rs_revisions) for pod in pods),
            key=lambda p: (-p["revision"], p["name"]),
        ),
        "conditions": [
            {
                "type": c.get("type", ""),
                "status": c.get("status", ""),
                "reason": c.get("reason", ""),
                "message": c.get("message", ""),
            }
            for c in status.get("conditions") or []
        ],
    }
