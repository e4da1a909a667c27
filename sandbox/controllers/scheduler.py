"""A default-scheduler look-alike: filters nodes, scores the feasible ones, binds the pod.

Filters run in the upstream plugin order and a node is rejected by the first one that fails
(NodeUnschedulable, TaintToleration, NodeAffinity/nodeSelector, NodeResourcesFit), so the
FailedScheduling message counts reasons the way `kubectl describe pod` shows them on GKE.
Node usage is tracked incrementally from pod events; only a sample of feasible nodes is
scored on big clusters, as percentageOfNodesToScore does.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from sandbox.machinery.base import Controller
from sandbox.machinery.cache import Caches
from sandbox.machinery.quantity import millicores, quantity_bytes
from sandbox.machinery.util import controller_ref, deepcopy, get_condition, set_condition

log = logging.getLogger(__name__)
COMPONENT = "default-scheduler"
GPU = "nvidia.com/gpu"
_RESOURCES = ("cpu", "memory", GPU, "pods")
_NOT_HELPFUL = "Preemption is not helpful for scheduling"
_NO_VICTIMS = "No preemption victims found for incoming pod"

Vector = dict[str, int]


def pod_requests(pod: dict) -> Vector:
    """Effective requests: sum over containers, at least the largest init container."""
    spec = pod.get("spec") or {}
    total: Vector = {"cpu": 0, "memory": 0, GPU: 0}
    for container in spec.get("containers") or []:
        for name, value in _container_requests(container).items():
            total[name] = total.get(name, 0) + value
    for container in spec.get("initContainers") or []:
        for name, value in _container_requests(container).items():
            total[name] = max(total.get(name, 0), value)
    total["pods"] = 1
    return total


def _container_requests(container: dict) -> Vector:
    resources = container.get("resources") or {}
    # A limit without a request defaults the request to the limit (API server defaulting).
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    out: Vector = {}
    for name, value in merged.items():
        if name == "cpu":
            out["cpu"] = millicores(value)
        elif name == "memory":
            out["memory"] = quantity_bytes(value)
        else:
            out[name] = quantity_bytes(value)
    return out


def node_allocatable(node: dict) -> Vector:
    alloc = (node.get("status") or {}).get("allocatable") or {}
    out: Vector = {}
    for name, value in alloc.items():
        if name == "cpu":
            out["cpu"] = millicores(value)
        elif name in ("memory", "pods", GPU) or "/" in name:
            out[name] = quantity_bytes(value)
    return out


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    for tol in tolerations:
        effect = tol.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        operator = tol.get("operator") or "Equal"
        key = tol.get("key")
        if not key:
            if operator == "Exists":
                return True
            continue
        if key != taint.get("key"):
            continue
        if operator == "Exists" or (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _expression_matches(expr: dict, labels: dict) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    present = key in labels
    value = labels.get(key)
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def matches_affinity(pod: dict, node: dict) -> bool:
    spec = pod.get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if not required:
        return True
    fields = {"metadata.name": node["metadata"]["name"]}
    for term in required.get("nodeSelectorTerms") or []:
        exprs = term.get("matchExpressions") or []
        field_exprs = term.get("matchFields") or []
        if not exprs and not field_exprs:
            continue
        if all(_expression_matches(e, labels) for e in exprs) and all(
            _expression_matches(e, fields) for e in field_exprs
        ):
            return True
    return False


class NodeState:
    """A node as the scheduler sees it: what it offers, what is already placed on it."""

    __slots__ = ("allocatable", "hard_taints", "node", "requested", "static_failure")

    def __init__(self, node: dict) -> None:
        self.requested: Vector = dict.fromkeys(_RESOURCES, 0)
        self.refresh(node)

    def refresh(self, node: dict) -> None:
        self.node = node
        self.allocatable = node_allocatable(node)
        spec = node.get("spec") or {}
        self.hard_taints = [
            t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")
        ]
        # A node that is not ready carries the not-ready/unreachable taints, which the taint
        # filter reports, as upstream does.
        self.static_failure = "node(s) were unschedulable" if spec.get("unschedulable") else None


class Scheduler(Controller):
    name = "scheduler"

    def __init__(self, cluster: Any, caches: Caches) -> None:
        super().__init__(cluster)
        self.caches = caches
        self.nodes: dict[str, NodeState] = {}
        self.node_order: list[str] = []
        self._placed: dict[tuple[str, str], tuple[str, Vector, str | None]] = {}
        # (node, controller uid) -> pods of that controller on the node, for spreading.
        self._spread: dict[tuple[str, str], int] = {}
        self._unschedulable: set[tuple[str, str]] = set()
        self._retry_pending = False
        self._next_start = 0

    def setup(self) -> None:
        for node in self.api.list("nodes"):
            self._node_changed(node)
        for pod in self.api.list("pods"):
            self._track(pod)
        self.watch("nodes", self._on_node)
        self.watch("pods", self._on_pod)

    def initial_keys(self):
        return [key for key, pod in self.caches.pods.objects.items() if _needs_scheduling(pod)]

    def resync_interval(self) -> float:
        return self.config.scheduler_unschedulable_resync_seconds

    # -- events ------------------------------------------------------------------------------

    def _on_node(self, event_type: str, obj: dict, old: dict | None) -> None:
        name = obj["metadata"]["name"]
        if event_type == "DELETED":
            self.nodes.pop(name, None)
            self.node_order = sorted(self.nodes)
            return
        before = self.nodes.get(name)
        self._node_changed(obj)
        # Heartbeats change nothing that matters for placement: do not retry on every one.
        if before is None or _placement_view(before.node) != _placement_view(obj):
            self._retry_unschedulable()

    def _node_changed(self, node: dict) -> None:
        name = node["metadata"]["name"]
        state = self.nodes.get(name)
        if state is None:
            state = self.nodes[name] = NodeState(node)
            self.node_order = sorted(self.nodes)
            for node_name, vec, _ in self._placed.values():
                if node_name == name:
                    _add(state.requested, vec, 1)
        else:
            state.refresh(node)

    def _on_pod(self, event_type: str, obj: dict, old: dict | None) -> None:
        key = (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
        freed = self._track(obj, deleted=event_type == "DELETED")
        if event_type != "DELETED" and _needs_scheduling(obj):
            if key not in self._unschedulable:
                self.enqueue(key)
        else:
            self._unschedulable.discard(key)
        if freed:
            self._retry_unschedulable()

    def _track(self, pod: dict, *, deleted: bool = False) -> bool:
        """Keep node usage in step with pod placement; True when capacity was freed."""
        key = (pod["metadata"].get("namespace") or "", pod["metadata"]["name"])
        node = (pod.get("spec") or {}).get("nodeName")
        holds = (
            bool(node)
            and not deleted
            and (pod.get("status") or {}).get("phase")
            not in (
                "Succeeded",
                "Failed",
            )
        )
        previous = self._placed.get(key)
        if previous is not None and (not holds or previous[0] != node):
            del self._placed[key]
            state = self.nodes.get(previous[0])
            if state is not None:
                _add(state.requested, previous[1], -1)
            if previous[2] is not None:
                spread_key = (previous[0], previous[2])
                self._spread[spread_key] -= 1
                if not self._spread[spread_key]:
                    del self._spread[spread_key]
            freed = True
        else:
            freed = False
        if holds and key not in self._placed:
            vec = pod_requests(pod)
            owner = (controller_ref(pod) or {}).get("uid")
            self._placed[key] = (node, vec, owner)
            state = self.nodes.get(node)
            if state is not None:
                _add(state.requested, vec, 1)
            if owner is not None:
                self._spread[(node, owner)] = self._spread.get((node, owner), 0) + 1
        return freed

    def _retry_unschedulable(self) -> None:
        if not self._unschedulable or self._retry_pending:
            return
        self._retry_pending = True
        # Batch retries: a burst of pod deletions triggers one pass, not one per deletion.
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        loop.call_later(self.config.scheduler_retry_seconds, self._do_retry)

    def _do_retry(self) -> None:
        self._retry_pending = False
        pending, self._unschedulable = self._unschedulable, set()
        for key in sorted(pending):
            self.enqueue(key)

    # -- scheduling one pod ------------------------------------------------------------------

    def reconcile(self, key: tuple[str, str]) -> None:
        pod = self.api.get("pods", *key)
        if pod is None or not _needs_scheduling(pod):
            self._unschedulable.discard(key)
            return
        node_name, reasons, preemption = self._find_node(pod)
        if node_name is None:
            self._unschedulable.add(key)
            self._report_unschedulable(pod, reasons, preemption)
            return
        self._bind(pod, node_name)

    def _find_node(self, pod: dict) -> tuple[str | None, Counter, Counter]:
        order = self.node_order
        total = len(order)
        reasons: Counter = Counter()
        preemption: Counter = Counter()
        if not total:
            return None, reasons, preemption
        wanted = _feasible_to_find(total)
        requests = pod_requests(pod)
        pod_spec = pod.get("spec") or {}
        tolerations = pod_spec.get("tolerations") or []
        owner = (controller_ref(pod) or {}).get("uid")
        affinity = bool(
            pod_spec.get("nodeSelector") or (pod_spec.get("affinity") or {}).get("nodeAffinity")
        )
        best, best_score, found = None, -1.0, 0
        start = self._next_start % total
        for i in range(total):
            name = order[(start + i) % total]
            state = self.nodes[name]
            failure = self._filter(pod, state, requests, tolerations, affinity)
            if failure:
                for reason in failure:
                    reasons[reason] += 1
                helpful = failure[0].startswith(("Insufficient", "Too many pods"))
                preemption[_NO_VICTIMS if helpful else _NOT_HELPFUL] += 1
                continue
            found += 1
            score = _score(state, requests)
            if owner is not None:
                # Default topology spreading: pods of one controller prefer different nodes.
                score += 2.0 / (1 + self._spread.get((name, owner), 0))
            if score > best_score:
                best, best_score = name, score
            if found >= wanted:
                self._next_start = (start + i + 1) % total
                break
        else:
            self._next_start = (start + 1) % total
        return best, reasons, preemption

    def _filter(
        self, pod: dict, state: NodeState, requests: Vector, tolerations: list, affinity: bool
    ) -> list[str]:
        if state.static_failure:
            return [state.static_failure]
        for taint in state.hard_taints:
            if not tolerates(tolerations, taint):
                return [
                    "node(s) had untolerated taint "
                    f"{{{taint.get('key')}: {taint.get('value', '')}}}"
                ]
        if affinity and not matches_affinity(pod, state.node):
            return ["node(s) didn't match Pod's node affinity/selector"]
        failures = []
        requested, allocatable = state.requested, state.allocatable
        if requested.get("pods", 0) + 1 > allocatable.get("pods", 110):
            failures.append("Too many pods")
        for name, amount in requests.items():
            if name == "pods" or amount <= 0:
                continue
            if requested.get(name, 0) + amount > allocatable.get(name, 0):
                failures.append(f"Insufficient {name}")
        return failures

    def _bind(self, pod: dict, node_name: str) -> None:
        # Shallow copies: the registry deep-copies what it stores, and we never mutate nested parts.
        bound = self.api.update("pods", {**pod, "spec": {**pod["spec"], "nodeName": node_name}})
        status = dict(bound.get("status") or {})
        status["conditions"] = list(status.get("conditions") or [])
        status.setdefault("phase", "Pending")
        set_condition(status, "PodScheduled", "True", "", "", probe_times=True)
        self.api.update_status("pods", {**bound, "status": status})
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self.api.record_event(
            pod,
            reason="Scheduled",
            message=f"Successfully assigned {ns}/{name} to {node_name}",
            component=COMPONENT,
        )

    def _report_unschedulable(self, pod: dict, reasons: Counter, preemption: Counter) -> None:
        total = len(self.node_order)
        if total == 0:
            message = "no nodes available to schedule pods"
        else:
            # Upstream sorts the formatted "<count> <reason>" strings, not the reasons.
            detail = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
            message = f"0/{total} nodes are available: {detail}."
            if preemption:
                extra = ", ".join(sorted(f"{c} {r}" for r, c in preemption.items()))
                message += f" preemption: 0/{total} nodes are available: {extra}."
        updated = deepcopy(pod)
        status = updated.setdefault("status", {})
        status.setdefault("phase", "Pending")
        if set_condition(
            status, "PodScheduled", "False", "Unschedulable", message, probe_times=True
        ):
            self.api.update_status("pods", updated)
            self.api.record_event(
                pod,
                reason="FailedScheduling",
                message=message,
                type="Warning",
                component=COMPONENT,
            )


def _needs_scheduling(pod: dict) -> bool:
    spec = pod.get("spec") or {}
    return (
        not spec.get("nodeName")
        and not pod["metadata"].get("deletionTimestamp")
        and (spec.get("schedulerName") or COMPONENT) == COMPONENT
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )


def _placement_view(node: dict) -> tuple:
    ready = get_condition(node.get("status"), "Ready") or {}
    return (
        repr((node.get("spec") or {}).get("taints")),
        (node.get("spec") or {}).get("unschedulable"),
        repr((node.get("status") or {}).get("allocatable")),
        repr(node["metadata"].get("labels")),
        ready.get("status"),
    )


def _feasible_to_find(total: int) -> int:
    """numFeasibleNodesToFind with the adaptive percentageOfNodesToScore."""
    if total < 100:
        return total
    percentage = max(50 - total // 125, 5)
    return max(total * percentage // 100, 100)


def _score(state: NodeState, requests: Vector) -> float:
    """LeastAllocated: prefer the node with the most free CPU and memory after placement."""
    score = 0.0
    for name in ("cpu", "memory"):
        capacity = state.allocatable.get(name, 0)
        if capacity <= 0:
            continue
        used = state.requested.get(name, 0) + requests.get(name, 0)
        score += (capacity - used) / capacity
    return score


def _add(target: Vector, vec: Vector, sign: int) -> None:
    for name, amount in vec.items():
        target[name] = target.get(name, 0) + sign * amount
