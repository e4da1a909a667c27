"""Deployment controller, following kube-controller-manager's deployment controller.

One reconcile per Deployment key: find its ReplicaSets, pick (or create) the one whose pod
template matches, then either scale proportionally (a scaling event, or paused), or take one
step of the strategy (RollingUpdate within maxSurge/maxUnavailable, or Recreate), and finally
publish status and the Progressing/Available conditions. Every step re-enters through the
work queue as ReplicaSets and pods change, so a rollout advances as pods become available.
"""

from __future__ import annotations

import logging
from typing import Any

from sandbox.controllers import rollout as ro
from sandbox.controllers.rollout_status import (
    calculate_status,
    has_deadline,
    progress_conditions,
)
from sandbox.machinery.base import Controller
from sandbox.machinery.cache import Caches
from sandbox.machinery.util import (
    controller_ref,
    deepcopy,
    get_condition,
    now,
    owner_reference,
    parse_time,
    set_condition,
)

log = logging.getLogger(__name__)
COMPONENT = "deployment-controller"
RESOURCE = "deployments.apps"
RS_RESOURCE = "replicasets.apps"


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, cluster: Any, caches: Caches) -> None:
        super().__init__(cluster)
        self.caches = caches

    def setup(self) -> None:
        self.watch_objects(RESOURCE)
        self.watch_owned(RS_RESOURCE, "Deployment")
        # Recreate waits for old pods to be gone, so pod deletions matter too.
        self.watch_owned("pods", "ReplicaSet", events=("DELETED",), owner_key=self._owner_of_set)

    def initial_keys(self):
        return [
            (d["metadata"]["namespace"], d["metadata"]["name"]) for d in self.api.list(RESOURCE)
        ]

    def _owner_of_set(self, key: tuple[str, str]) -> tuple[str, str] | None:
        rs = self.caches.replicasets.get(*key)
        ref = controller_ref(rs) if rs else None
        return (key[0], ref["name"]) if ref and ref.get("kind") == "Deployment" else None

    # -- reconcile ---------------------------------------------------------------------------

    def reconcile(self, key: tuple[str, str]) -> None:
        ns, name = key
        stored = self.api.get(RESOURCE, ns, name)
        if stored is None:
            return
        d = deepcopy(stored)
        rss = [deepcopy(rs) for rs in self.caches.replicasets.by("owner", d["metadata"]["uid"])]
        if d["metadata"].get("deletionTimestamp"):
            self._sync_status_only(d, rss)
            return
        self._check_paused_condition(d)
        if d["spec"].get("paused"):
            self._sync(d, rss)
            return
        new_rs, old_rss = self._new_and_old(d, rss, create=False)
        if self._is_scaling_event(d, new_rs, old_rss):
            self._sync(d, rss)
            return
        if ro.is_rolling(d):
            self._rollout_rolling(d, rss)
        else:
            self._rollout_recreate(d, rss)

    # -- finding and creating the new ReplicaSet --------------------------------------------

    def _new_and_old(
        self, d: dict, rss: list[dict], *, create: bool
    ) -> tuple[dict | None, list[dict]]:
        template = d["spec"]["template"]
        matching = [rs for rs in rss if ro.templates_equal(rs["spec"]["template"], template)]
        matching.sort(
            key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"])
        )
        new_rs = matching[0] if matching else None
        old_rss = [rs for rs in rss if rs is not new_rs]
        max_old = max((ro.revision(rs) for rs in old_rss), default=0)
        new_revision = max_old + 1
        if new_rs is not None:
            new_rs = self._sync_new_rs_metadata(d, new_rs, new_revision)
        elif create:
            new_rs = self._create_new_rs(d, old_rss, new_revision)
        if new_rs is not None:
            self._set_deployment_revision(d, ro.revision(new_rs))
        return new_rs, old_rss

    def _sync_new_rs_metadata(self, d: dict, rs: dict, new_revision: int) -> dict:
        # Only annotations and revision here: the replica annotations of an existing RS change
        # when it is scaled, or proportional scaling would lose what the RS was sized for.
        changed = ro.copy_annotations(d, rs)
        changed |= ro.set_new_rs_revision(rs, new_revision)
        min_ready = d["spec"].get("minReadySeconds") or 0
        if (rs["spec"].get("minReadySeconds") or 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            changed = True
        if changed:
            rs = self.api.update(RS_RESOURCE, rs)
            rs = deepcopy(rs)
        status = d.setdefault("status", {})
        if get_condition(status, "Progressing") is None and self._has_deadline(d):
            set_condition(
                status,
                "Progressing",
                "True",
                "FoundNewReplicaSet",
                f'Found new replica set "{rs["metadata"]["name"]}"',
                update_times=True,
            )
            self._write_status(d)
        return rs

    def _create_new_rs(self, d: dict, old_rss: list[dict], new_revision: int) -> dict:
        status = d.setdefault("status", {})
        collisions = status.get("collisionCount")
        while True:
            pod_hash = ro.template_hash(d["spec"]["template"], collisions)
            template = deepcopy(d["spec"]["template"])
            template.setdefault("metadata", {}).setdefault("labels", {})[ro.HASH_LABEL] = pod_hash
            selector = deepcopy(d["spec"].get("selector") or {})
            selector.setdefault("matchLabels", {})[ro.HASH_LABEL] = pod_hash
            labels = dict((d["spec"]["template"].get("metadata") or {}).get("labels") or {})
            labels[ro.HASH_LABEL] = pod_hash
            rs = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": f"{d['metadata']['name']}-{pod_hash}",
                    "namespace": d["metadata"]["namespace"],
                    "labels": labels,
                    "annotations": {},
                    "ownerReferences": [
                        owner_reference(d, api_version="apps/v1", kind="Deployment")
                    ],
                },
                "spec": {
                    "replicas": 0,
                    "minReadySeconds": d["spec"].get("minReadySeconds") or 0,
                    "selector": selector,
                    "template": template,
                },
            }
            ro.copy_annotations(d, rs)
            ro.set_new_rs_revision(rs, new_revision)
            all_rss = [*old_rss, rs]
            rs["spec"]["replicas"] = ro.new_rs_new_replicas(d, all_rss, rs)
            ro.set_replicas_annotations(d, rs)
            try:
                created = deepcopy(self.api.create(RS_RESOURCE, rs))
            except Exception as exc:
                if getattr(exc, "code", None) != 409:
                    raise
                existing = self.api.get(
                    RS_RESOURCE, d["metadata"]["namespace"], rs["metadata"]["name"]
                )
                ours = (
                    existing is not None
                    and (controller_ref(existing) or {}).get("uid") == d["metadata"]["uid"]
                )
                if ours and ro.templates_equal(existing["spec"]["template"], d["spec"]["template"]):
                    return deepcopy(existing)
                # A hash collision with a different template: bump collisionCount and retry.
                collisions = (collisions or 0) + 1
                status["collisionCount"] = collisions
                continue
            break
        if created["spec"]["replicas"] > 0:
            self._scaling_event(d, created, 0, created["spec"]["replicas"])
        if self._has_deadline(d):
            set_condition(
                status,
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{created["metadata"]["name"]}"',
                update_times=True,
            )
            self._write_status(d)
        return created

    def _set_deployment_revision(self, d: dict, rev: int) -> None:
        ann = d["metadata"].setdefault("annotations", {})
        if ann.get(ro.REVISION) == str(rev):
            return
        ann[ro.REVISION] = str(rev)
        updated = self.api.update(RESOURCE, d)
        d["metadata"] = deepcopy(updated["metadata"])

    # -- scaling -----------------------------------------------------------------------------

    def _is_scaling_event(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> bool:
        for rs in _active([new_rs, *old_rss]):
            desired = (rs["metadata"].get("annotations") or {}).get(ro.DESIRED_REPLICAS)
            if desired is not None and desired != str(ro.replicas(d)):
                return True
        return False

    def _scale_rs(self, d: dict, rs: dict, new_size: int) -> bool:
        old_size = ro.replicas(rs)
        size_changed = old_size != new_size
        rs["spec"]["replicas"] = new_size
        ann_changed = ro.set_replicas_annotations(d, rs)
        if not size_changed and not ann_changed:
            return False
        updated = self.api.update(RS_RESOURCE, rs)
        rs.update(deepcopy(updated))
        if size_changed:
            self._scaling_event(d, rs, old_size, new_size)
        return size_changed

    def _scaling_event(self, d: dict, rs: dict, old_size: int, new_size: int) -> None:
        direction = "up" if new_size > old_size else "down"
        self.api.record_event(
            d,
            reason="ScalingReplicaSet",
            message=(
                f"Scaled {direction} replica set {rs['metadata']['name']} "
                f"from {old_size} to {new_size}"
            ),
            component=COMPONENT,
        )

    def _scale(self, d: dict, new_rs: dict | None, old_rss: list[dict]) -> None:
        """Proportional scaling (dc.scale): spread a change of spec.replicas over the RSs."""
        active = _active([new_rs, *old_rss])
        if len(active) == 1 or (not active and (new_rs or old_rss)):
            target = active[0] if active else (new_rs or max(old_rss, key=_created))
            self._scale_rs(d, target, ro.replicas(d))
            return
        if new_rs is not None and _saturated(d, new_rs):
            for rs in _active(old_rss):
                self._scale_rs(d, rs, 0)
            return
        if not ro.is_rolling(d):
            return
        all_rss = _active([new_rs, *old_rss])
        current = sum(ro.replicas(rs) for rs in all_rss)
        allowed = ro.replicas(d) + ro.max_surge(d) if ro.replicas(d) > 0 else 0
        to_add = allowed - current
        if to_add == 0:
            return
        # Bigger first; newer first when growing, older first when shrinking.
        if to_add > 0:
            all_rss.sort(key=lambda rs: (-ro.replicas(rs), _neg_created(rs)))
        else:
            all_rss.sort(key=lambda rs: (-ro.replicas(rs), _created(rs)))
        sizes: dict[str, int] = {}
        added = 0
        for rs in all_rss:
            size = ro.replicas(rs)
            if to_add != 0 and added != to_add:
                fraction = ro.rs_fraction(rs, d)
                remaining = to_add - added
                step = min(abs(fraction), abs(remaining))
                step = step if to_add > 0 else -step
                added += step
                size += step
            sizes[rs["metadata"]["name"]] = size
        leftover = to_add - added
        if all_rss and leftover:
            first = all_rss[0]["metadata"]["name"]
            sizes[first] = max(sizes[first] + leftover, 0)
        for rs in all_rss:
            self._scale_rs(d, rs, max(sizes[rs["metadata"]["name"]], 0))

    # -- strategies --------------------------------------------------------------------------

    def _sync(self, d: dict, rss: list[dict]) -> None:
        """Scaling events and paused deployments: scale only, never start a rollout."""
        new_rs, old_rss = self._new_and_old(d, rss, create=False)
        self._scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            self._cleanup(d, old_rss)
        self._sync_status(d, [rs for rs in [new_rs, *old_rss] if rs], new_rs, conditions=False)

    def _rollout_rolling(self, d: dict, rss: list[dict]) -> None:
        new_rs, old_rss = self._new_and_old(d, rss, create=True)
        assert new_rs is not None
        all_rss = [new_rs, *old_rss]
        if self._reconcile_new_rs(d, all_rss, new_rs):
            self._sync_status(d, all_rss, new_rs)
            return
        if self._reconcile_old_rss(d, all_rss, _active(old_rss), new_rs):
            self._sync_status(d, all_rss, new_rs)
            return
        status = calculate_status(d, all_rss, new_rs)
        if ro.deployment_complete(d, status):
            self._cleanup(d, old_rss)
        self._sync_status(d, all_rss, new_rs)

    def _reconcile_new_rs(self, d: dict, all_rss: list[dict], new_rs: dict) -> bool:
        want = ro.replicas(d)
        if ro.replicas(new_rs) == want:
            return False
        if ro.replicas(new_rs) > want:
            return self._scale_rs(d, new_rs, want)
        return self._scale_rs(d, new_rs, ro.new_rs_new_replicas(d, all_rss, new_rs))

    def _reconcile_old_rss(
        self, d: dict, all_rss: list[dict], old_rss: list[dict], new_rs: dict
    ) -> bool:
        if sum(ro.replicas(rs) for rs in old_rss) == 0:
            return False
        all_pods = sum(ro.replicas(rs) for rs in all_rss)
        min_available = ro.replicas(d) - ro.max_unavailable(d)
        new_unavailable = ro.replicas(new_rs) - ro.status_count(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        # First drop old replicas that are not available anyway: they serve no traffic.
        cleaned = 0
        for rs in sorted(old_rss, key=_created):
            if cleaned >= max_scaled_down:
                break
            size, avail = ro.replicas(rs), ro.status_count(rs, "availableReplicas")
            if size == 0 or size == avail:
                continue
            step = min(max_scaled_down - cleaned, size - avail)
            self._scale_rs(d, rs, size - step)
            cleaned += step
        # Then scale down available old replicas while enough pods stay available.
        available = sum(ro.status_count(rs, "availableReplicas") for rs in [new_rs, *old_rss])
        scaled = 0
        if available > min_available:
            total = available - min_available
            for rs in sorted(old_rss, key=_created):
                if scaled >= total:
                    break
                if ro.replicas(rs) == 0:
                    continue
                step = min(ro.replicas(rs), total - scaled)
                self._scale_rs(d, rs, ro.replicas(rs) - step)
                scaled += step
        return cleaned + scaled > 0

    def _rollout_recreate(self, d: dict, rss: list[dict]) -> None:
        new_rs, old_rss = self._new_and_old(d, rss, create=False)
        all_rss = [rs for rs in [new_rs, *old_rss] if rs]
        scaled_down = False
        for rs in _active(old_rss):
            scaled_down |= self._scale_rs(d, rs, 0)
        if scaled_down or self._old_pods_running(old_rss):
            self._sync_status(d, all_rss, new_rs)
            return
        if new_rs is None:
            new_rs, old_rss = self._new_and_old(d, rss, create=True)
            all_rss = [new_rs, *old_rss]
        self._scale_rs(d, new_rs, ro.replicas(d))
        status = calculate_status(d, all_rss, new_rs)
        if ro.deployment_complete(d, status):
            self._cleanup(d, old_rss)
        self._sync_status(d, all_rss, new_rs)

    def _old_pods_running(self, old_rss: list[dict]) -> bool:
        if sum(ro.status_count(rs, "replicas") for rs in old_rss) > 0:
            return True
        for rs in old_rss:
            for pod in self.caches.pods.by("owner", rs["metadata"]["uid"]):
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
        return False

    def _cleanup(self, d: dict, old_rss: list[dict]) -> None:
        """Delete the oldest unused ReplicaSets beyond revisionHistoryLimit."""
        limit = d["spec"].get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        cleanable = [
            rs
            for rs in old_rss
            if not rs["metadata"].get("deletionTimestamp")
            and ro.replicas(rs) == 0
            and ro.status_count(rs, "replicas") == 0
        ]
        excess = len(cleanable) - limit
        if excess <= 0:
            return
        cleanable.sort(key=lambda rs: (ro.revision(rs), _created(rs)))
        for rs in cleanable[:excess]:
            observed = (rs.get("status") or {}).get("observedGeneration", 0)
            if observed < rs["metadata"].get("generation", 1):
                continue
            try:
                self.api.delete(RS_RESOURCE, rs["metadata"]["namespace"], rs["metadata"]["name"])
            except Exception as exc:
                if getattr(exc, "code", None) != 404:
                    raise

    # -- status ------------------------------------------------------------------------------

    def _sync_status(
        self, d: dict, all_rss: list[dict], new_rs: dict | None, *, conditions: bool = True
    ) -> None:
        status = calculate_status(d, all_rss, new_rs)
        if conditions:
            progress_conditions(d, status, new_rs)
        if _strip_zero(status) != _strip_zero(d.get("status") or {}):
            d["status"] = status
            self._write_status(d)
        if conditions:
            self._requeue_stuck(d, status)

    def _requeue_stuck(self, d: dict, status: dict) -> None:
        cond = get_condition(status, "Progressing")
        if (
            cond is None
            or not self._has_deadline(d)
            or ro.deployment_complete(d, status)
            or cond.get("reason") in ("ProgressDeadlineExceeded", "NewReplicaSetAvailable")
        ):
            return
        since = parse_time(cond.get("lastUpdateTime")) or now()
        # Conditions have second precision: check again just after the deadline passes.
        remaining = since + d["spec"].get("progressDeadlineSeconds", 600) - now() + 1.0
        key = (d["metadata"]["namespace"], d["metadata"]["name"])
        self.requeue_after(key, max(remaining, self.config.deployment_progress_check_seconds))

    def _sync_status_only(self, d: dict, rss: list[dict]) -> None:
        new_rs, old_rss = self._new_and_old(d, rss, create=False)
        self._sync_status(d, [rs for rs in [new_rs, *old_rss] if rs], new_rs, conditions=False)

    def _check_paused_condition(self, d: dict) -> None:
        if not self._has_deadline(d):
            return
        status = d.setdefault("status", {})
        cond = get_condition(status, "Progressing")
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return
        paused = bool(d["spec"].get("paused"))
        was_paused = cond is not None and cond.get("reason") == "DeploymentPaused"
        if paused and not was_paused:
            set_condition(
                status,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                update_times=True,
            )
        elif not paused and was_paused:
            set_condition(
                status,
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
                update_times=True,
            )
        else:
            return
        self._write_status(d)

    def _has_deadline(self, d: dict) -> bool:
        return has_deadline(d)

    def _write_status(self, d: dict) -> None:
        updated = self.api.update_status(RESOURCE, d)
        d["metadata"] = deepcopy(updated["metadata"])
        d["status"] = deepcopy(updated.get("status") or {})


def _active(rss: list[dict | None]) -> list[dict]:
    return [rs for rs in rss if rs is not None and ro.replicas(rs) > 0]


def _saturated(d: dict, rs: dict) -> bool:
    desired = (rs["metadata"].get("annotations") or {}).get(ro.DESIRED_REPLICAS)
    want = ro.replicas(d)
    return (
        ro.replicas(rs) == want
        and desired == str(want)
        and ro.status_count(rs, "availableReplicas") == want
    )


def _created(rs: dict) -> tuple[str, str]:
    return rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]


def _neg_created(rs: dict) -> float:
    return -(parse_time(rs["metadata"].get("creationTimestamp")) or 0.0)


def _strip_zero(status: dict) -> dict:
    return {k: v for k, v in status.items() if v not in (0, None, [], {})}
