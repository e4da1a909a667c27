"""Node heartbeats, and what happens when a node stops posting them.

Healthy nodes post their conditions every `node_heartbeat_seconds`, as kubelets do. A node
scripted as failed (POST /sandbox/v1/nodes/{name}/failure) stops doing so; after
`node_monitor_grace_seconds` the node lifecycle controller marks its conditions Unknown, taints
it node.kubernetes.io/unreachable (NoSchedule and NoExecute) and marks its pods not ready; the
taint eviction controller then deletes pods whose tolerations run out (the API server's default
tolerationSeconds is 300). Deleted pods stay Terminating while the node is down, as in a real
cluster, and their controllers create replacements elsewhere. Recovery reverses it all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sandbox.machinery.cache import Caches
from sandbox.machinery.errors import ApiError
from sandbox.machinery.util import (
    deepcopy,
    get_condition,
    now,
    parse_time,
    rfc3339,
    set_condition,
)
from sandbox.scripting import get_script

log = logging.getLogger(__name__)
UNREACHABLE = "node.kubernetes.io/unreachable"
_HEALTHY = {
    "MemoryPressure": (
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
}


class NodeLifecycle:
    name = "node-lifecycle"

    def __init__(self, cluster: Any, caches: Caches) -> None:
        self.api = cluster.api
        self.config = cluster.config
        self.caches = caches
        self.script = get_script(cluster)
        self._wake = asyncio.Event()
        self._failed_since: dict[str, float] = {}
        self.script.listeners.append(self._wake.set)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval())
            self._wake.clear()
            try:
                self.tick()
            except Exception:
                log.exception("node lifecycle pass failed")

    def _interval(self) -> float:
        interval = self.config.node_heartbeat_seconds
        if self._failed_since or any(self._tainted_nodes()):
            # Failing nodes and pending evictions need a closer look than heartbeats do.
            interval = min(interval, max(self.config.node_monitor_grace_seconds / 2, 0.05))
        return interval

    def tick(self) -> None:
        at = now()
        for node in list(self.caches.nodes.objects.values()):
            name = node["metadata"]["name"]
            if name in self.script.failed_nodes:
                since = self._failed_since.setdefault(name, at)
                if at - since >= self.config.node_monitor_grace_seconds:
                    self._mark_unreachable(node)
            else:
                self._failed_since.pop(name, None)
                self._heartbeat(node)
        for node in self._tainted_nodes():
            self._evict(node, at)

    # -- healthy -----------------------------------------------------------------------------

    def _heartbeat(self, node: dict) -> None:
        stamp = rfc3339()
        taints = (node.get("spec") or {}).get("taints") or []
        if any(t.get("key") == UNREACHABLE for t in taints):
            self._write_spec(node, [t for t in taints if t.get("key") != UNREACHABLE])
            node = self.api.get("nodes", "", node["metadata"]["name"]) or node
        status = deepcopy(node.get("status") or {})
        for cond_type, (cond_status, reason, message) in _HEALTHY.items():
            set_condition(status, cond_type, cond_status, reason, message)
        for cond in status.get("conditions") or []:
            cond["lastHeartbeatTime"] = stamp
        self._write_status(node, status)

    # -- failed ------------------------------------------------------------------------------

    def _mark_unreachable(self, node: dict) -> None:
        ready = get_condition(node.get("status"), "Ready") or {}
        if ready.get("status") != "Unknown":
            status = deepcopy(node.get("status") or {})
            for cond_type in _HEALTHY:
                set_condition(
                    status,
                    cond_type,
                    "Unknown",
                    "NodeStatusUnknown",
                    "Kubelet stopped posting node status.",
                )
            self._write_status(node, status)
            self.api.record_event(
                node,
                reason="NodeNotReady",
                message=f"Node {node['metadata']['name']} status is now: NodeNotReady",
                component="node-controller",
            )
            self._mark_pods_not_ready(node["metadata"]["name"])
        taints = list((node.get("spec") or {}).get("taints") or [])
        if not any(t.get("key") == UNREACHABLE for t in taints):
            stamp = rfc3339()
            taints += [
                {"key": UNREACHABLE, "effect": "NoSchedule", "timeAdded": stamp},
                {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": stamp},
            ]
            current = self.api.get("nodes", "", node["metadata"]["name"])
            if current is not None:
                self._write_spec(current, taints)

    def _mark_pods_not_ready(self, node_name: str) -> None:
        for pod in self.caches.pods.by("node", node_name):
            ready = get_condition(pod.get("status"), "Ready")
            if ready is None or ready.get("status") != "True":
                continue
            status = dict(pod["status"])
            status["conditions"] = list(status.get("conditions") or [])
            set_condition(status, "Ready", "False", "", "", probe_times=True)
            try:
                self.api.update_status("pods", {**pod, "status": status})
            except ApiError as exc:
                log.warning("could not mark pod %s not ready: %s", pod["metadata"]["name"], exc)

    def _tainted_nodes(self) -> list[dict]:
        return [
            n
            for n in self.caches.nodes.objects.values()
            if any(
                t.get("effect") == "NoExecute" for t in (n.get("spec") or {}).get("taints") or []
            )
        ]

    def _evict(self, node: dict, at: float) -> None:
        """The taint eviction controller: delete pods whose NoExecute tolerations ran out."""
        taints = [
            t
            for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") == "NoExecute"
        ]
        for pod in list(self.caches.pods.by("node", node["metadata"]["name"])):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            deadline = _eviction_time(pod, taints)
            if deadline is None or at < deadline:
                continue
            meta = pod["metadata"]
            self.api.record_event(
                pod,
                reason="TaintManagerEviction",
                message=f"Marking for deletion Pod {meta['namespace']}/{meta['name']}",
                component="taint-eviction-controller",
            )
            try:
                self.api.delete("pods", meta["namespace"], meta["name"])
            except ApiError as exc:
                if exc.code != 404:
                    log.warning(
                        "could not evict pod %s/%s: %s", meta["namespace"], meta["name"], exc
                    )

    # -- writes ------------------------------------------------------------------------------

    def _write_status(self, node: dict, status: dict) -> None:
        try:
            self.api.update_status("nodes", {**node, "status": status})
        except ApiError as exc:  # deleted or changed meanwhile: the next pass catches up
            log.warning("node %s status not written: %s", node["metadata"]["name"], exc)

    def _write_spec(self, node: dict, taints: list[dict]) -> None:
        spec = dict(node.get("spec") or {})
        if taints:
            spec["taints"] = taints
        else:
            spec.pop("taints", None)
        try:
            self.api.update("nodes", {**node, "spec": spec})
        except ApiError as exc:
            log.warning("node %s taints not written: %s", node["metadata"]["name"], exc)


def _eviction_time(pod: dict, taints: list[dict]) -> float | None:
    """When the pod must go: now for an untolerated taint, after tolerationSeconds, or never."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    latest: float | None = None
    for taint in taints:
        added = parse_time(taint.get("timeAdded")) or now()
        matching = [t for t in tolerations if _tolerates(t, taint)]
        if not matching:
            return added
        if any(t.get("tolerationSeconds") is None for t in matching):
            continue
        seconds = min(int(t["tolerationSeconds"]) for t in matching)
        deadline = added + max(seconds, 0)
        latest = deadline if latest is None else min(latest, deadline)
    return latest


def _tolerates(toleration: dict, taint: dict) -> bool:
    from sandbox.controllers.scheduler import tolerates

    return tolerates([toleration], taint)
