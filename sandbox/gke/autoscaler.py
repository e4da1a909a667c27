"""The cluster autoscaler of the local GKE: a node pool with autoscaling on grows by a node per
zone while pods are Pending that one of its nodes could take (tolerations, node selector and
affinity, CPU, memory and GPUs), up to its maximum; once no pod has run on it for
`scale_down_seconds`, it shrinks back to its minimum (0 allowed: GPU pools that cost nothing
while idle)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sandbox.controllers.scheduler import (
    matches_affinity,
    node_allocatable,
    pod_requests,
    tolerates,
)

from .backing import gke_node, sync_nodes

log = logging.getLogger(__name__)

_DONE = ("Succeeded", "Failed")


def unschedulable(pod: dict) -> bool:
    if (pod.get("spec") or {}).get("nodeName"):
        return False
    status = pod.get("status") or {}
    if status.get("phase", "Pending") != "Pending":
        return False
    return any(
        c.get("type") == "PodScheduled"
        and c.get("status") == "False"
        and c.get("reason") == "Unschedulable"
        for c in status.get("conditions") or []
    )


def fits(pod: dict, node: dict) -> bool:
    """Whether `pod` could run on an empty `node` (the scheduler's own filters)."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return False
    if not matches_affinity(pod, node):
        return False
    offered = node_allocatable(node)
    wanted = {name: amount for name, amount in pod_requests(pod).items() if amount > 0}
    wanted.pop("pods", None)  # an empty node has room for one more pod
    return all(amount <= offered.get(name, 0) for name, amount in wanted.items())


class Autoscaler:
    def __init__(self, engine: Any, *, interval: float, scale_down_seconds: float) -> None:
        self.engine = engine
        self.interval = interval
        self.scale_down_seconds = scale_down_seconds
        self._busy_at: dict[tuple, float] = {}  # (cluster key, pool) -> when a pod last ran there

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for key in list(self.engine.clusters):
                try:
                    self.step(key)
                except Exception:
                    log.exception("autoscaler: cluster %s", "/".join(key))

    def step(self, key: tuple) -> None:
        resource = self.engine.clusters.get(key)
        backing = self.engine.backing.get(key)
        if resource is None or backing is None or resource["status"] != "RUNNING":
            return
        if key in self.engine._busy:
            return  # an operation is changing the cluster; look again next round
        pools = [p for p in resource["_pools"].values() if p.get("autoscaling")]
        if not pools:
            return
        pods = backing.api.list("pods")
        pending = [pod for pod in pods if unschedulable(pod)]
        running_on = {
            (pod.get("spec") or {}).get("nodeName")
            for pod in pods
            if (pod.get("status") or {}).get("phase") not in _DONE
        }
        nodes = {n["metadata"]["name"]: n for n in backing.api.list("nodes")}
        now = time.monotonic()
        changed = False
        for pool in pools:
            low, high = pool["autoscaling"]["minNodeCount"], pool["autoscaling"]["maxNodeCount"]
            mine = [
                name
                for name, node in nodes.items()
                if node["metadata"]["labels"].get("cloud.google.com/gke-nodepool") == pool["name"]
            ]
            if any(name in running_on for name in mine):
                self._busy_at[(key, pool["name"])] = now
            sample = gke_node(
                cluster=key[2], pool=pool, zone=pool["locations"][0], index=0, cidr_index=0
            )
            if pool["_per_zone"] < high and any(fits(pod, sample) for pod in pending):
                pool["_per_zone"] += 1
                self._busy_at[(key, pool["name"])] = now
                changed = True
                log.info(
                    "autoscaler: %s/%s up to %d per zone", key[2], pool["name"], pool["_per_zone"]
                )
            elif pool["_per_zone"] > low:
                idle_since = self._busy_at.setdefault((key, pool["name"]), now)
                if now - idle_since >= self.scale_down_seconds:
                    pool["_per_zone"] = low
                    changed = True
                    log.info(
                        "autoscaler: %s/%s idle, down to %d per zone", key[2], pool["name"], low
                    )
        if changed:
            sync_nodes(backing, cluster=key[2], pools=list(resource["_pools"].values()))
            self.engine.save()
