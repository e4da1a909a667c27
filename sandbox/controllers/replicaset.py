"""ReplicaSet controller: keeps spec.replicas active pods per ReplicaSet, reports status."""

from __future__ import annotations

import logging
from typing import Any

from sandbox.machinery.base import Controller
from sandbox.machinery.cache import Caches
from sandbox.machinery.errors import ApiError
from sandbox.machinery.util import (
    deepcopy,
    get_condition,
    now,
    owner_reference,
    parse_time,
    pod_is_active,
    pod_is_available,
    pod_is_ready,
    remove_condition,
    set_condition,
)

log = logging.getLogger(__name__)
COMPONENT = "replicaset-controller"
RESOURCE = "replicasets.apps"

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


class ReplicaSetController(Controller):
    name = "replicaset"

    def __init__(self, cluster: Any, caches: Caches) -> None:
        super().__init__(cluster)
        self.caches = caches

    def setup(self) -> None:
        self.watch_objects(RESOURCE)
        self.watch_owned("pods", "ReplicaSet")

    def initial_keys(self):
        return list(self.caches.replicasets.objects)

    def reconcile(self, key: tuple[str, str]) -> None:
        ns, name = key
        rs = self.api.get(RESOURCE, ns, name)
        if rs is None:
            return
        uid = rs["metadata"]["uid"]
        pods = list(self.caches.pods.by("owner", uid))
        active = [p for p in pods if pod_is_active(p)]
        failure = None
        if not rs["metadata"].get("deletionTimestamp"):
            failure = self._manage_replicas(rs, active)
            active = [p for p in self.caches.pods.by("owner", uid) if pod_is_active(p)]
        self._update_status(rs, active, failure)
        if failure is not None:
            # Like upstream's rate-limited requeue: try again, without hammering the API.
            self.requeue_after(key, 1.0)

    def _manage_replicas(self, rs: dict, active: list[dict]) -> str | None:
        """Create or delete pods towards spec.replicas; the pod creation error, if any."""
        wanted = int(rs["spec"].get("replicas", 1))
        diff = len(active) - wanted
        if diff < 0:
            for _ in range(-diff):
                failure = self._create_pod(rs)
                if failure is not None:
                    return failure  # the rest would fail the same way
        elif diff > 0:
            for pod in sorted(active, key=_deletion_rank)[:diff]:
                meta = pod["metadata"]
                try:
                    self.api.delete("pods", meta["namespace"], meta["name"])
                except Exception as exc:
                    if getattr(exc, "code", None) != 404:
                        raise
                    continue
                self.api.record_event(
                    rs,
                    reason="SuccessfulDelete",
                    message=f"Deleted pod: {meta['name']}",
                    component=COMPONENT,
                )
        return None

    def _create_pod(self, rs: dict) -> str | None:
        template = rs["spec"].get("template") or {}
        tmeta = template.get("metadata") or {}
        meta: dict[str, Any] = {
            "generateName": f"{rs['metadata']['name']}-",
            "namespace": rs["metadata"]["namespace"],
            "labels": dict(tmeta.get("labels") or {}),
            "ownerReferences": [owner_reference(rs, api_version="apps/v1", kind="ReplicaSet")],
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta}
        pod["spec"] = deepcopy(template.get("spec") or {})
        try:
            created = self.api.create("pods", pod)
        except ApiError as exc:
            message = f"Error creating: {exc.message}"
            log.warning("replicaset %s: %s", rs["metadata"]["name"], message)
            self.api.record_event(
                rs, reason="FailedCreate", message=message, type="Warning", component=COMPONENT
            )
            return exc.message
        self.api.record_event(
            rs,
            reason="SuccessfulCreate",
            message=f"Created pod: {created['metadata']['name']}",
            component=COMPONENT,
        )
        return None

    def _update_status(self, rs: dict, active: list[dict], failure: str | None) -> None:
        min_ready = int(rs["spec"].get("minReadySeconds") or 0)
        at = now()
        labels = (rs["spec"].get("template") or {}).get("metadata", {}).get("labels") or {}
        ready = [p for p in active if pod_is_ready(p)]
        available = [p for p in ready if pod_is_available(p, min_ready, at)]
        fully_labeled = [
            p
            for p in active
            if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
        ]
        old = rs.get("status") or {}
        status = dict(old)
        status.update(
            replicas=len(active),
            fullyLabeledReplicas=len(fully_labeled),
            readyReplicas=len(ready),
            availableReplicas=len(available),
            observedGeneration=rs["metadata"].get("generation", 1),
        )
        # The API omits zero counts; keep `replicas` which is required.
        for field in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if not status[field]:
                del status[field]
        status["conditions"] = list(old.get("conditions") or [])
        if failure is not None:
            set_condition(status, "ReplicaFailure", "True", "FailedCreate", failure)
        else:
            remove_condition(status, "ReplicaFailure")
        if not status["conditions"]:
            del status["conditions"]
        if status != old:
            updated = deepcopy(rs)
            updated["status"] = status
            self.api.update_status(RESOURCE, updated)
        if min_ready and len(ready) > len(available):
            # Re-check once the youngest ready pod has been ready for minReadySeconds.
            self.requeue_after(
                (rs["metadata"]["namespace"], rs["metadata"]["name"]),
                min(_ready_remaining(p, min_ready, at) for p in ready if p not in available),
            )


def _ready_remaining(pod: dict, min_ready: int, at: float) -> float:
    cond = get_condition(pod.get("status"), "Ready") or {}
    since = parse_time(cond.get("lastTransitionTime")) or at
    return max(since + min_ready - at, 0.0) + 0.05


def _deletion_rank(pod: dict) -> tuple:
    """controller.ActivePods ordering: the pod listed first is the cheapest to lose."""
    status = pod.get("status") or {}
    assigned = 1 if (pod.get("spec") or {}).get("nodeName") else 0
    phase = _PHASE_RANK.get(status.get("phase", "Pending"), 0)
    ready = 1 if pod_is_ready(pod) else 0
    ready_since = 0.0
    if ready:
        cond = get_condition(status, "Ready") or {}
        ready_since = parse_time(cond.get("lastTransitionTime")) or 0.0
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    created = parse_time(pod["metadata"].get("creationTimestamp")) or 0.0
    # Ready longer is worth more (delete the most recently ready first): negate ready_since.
    return (assigned, phase, ready, -ready_since, -restarts, -created)
