"""The autoscaling/v2 replica calculation (after pkg/controller/podautoscaler/replica_calculator).

desired = ceil(current * usageRatio) outside a tolerance band, computed over ready pods with
metrics; pods still starting (Pending, or not Ready for CPU) and pods without metrics are then
assumed to use 0% (scale-up) or 100% (scale-down) of target, so they damp the decision instead of
driving it, exactly like upstream. Simplification: "not yet ready" for CPU is the pod's Ready
condition unless the caller applies upstream's cpu-initialization-period rule (hpa_metrics does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class MetricError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class PodInfo:
    name: str
    phase: str
    ready: bool
    deleting: bool
    # For CPU: whether the sample is still start-up noise (upstream's initialization rule);
    # None falls back to "not Ready".
    cpu_unready: bool | None = None


def group_pods(
    pods: list[PodInfo], metrics: dict[str, float], *, cpu: bool
) -> tuple[int, set, set, set]:
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        if pod.deleting or pod.phase == "Failed":
            ignored.add(pod.name)
            continue
        if pod.phase == "Pending":
            unready.add(pod.name)
            continue
        if pod.name not in metrics:
            missing.add(pod.name)
            continue
        if cpu and (pod.cpu_unready if pod.cpu_unready is not None else not pod.ready):
            unready.add(pod.name)
            continue
        ready += 1
    return ready, unready, missing, ignored


def _within(ratio: float, tolerance: float) -> bool:
    return abs(1.0 - ratio) <= tolerance


def utilization_ratio(
    metrics: dict[str, float], requests: dict[str, float], target: int
) -> tuple[float, int, float]:
    total_metric = sum(metrics.values())
    total_request = sum(requests[name] for name in metrics if name in requests)
    if total_request <= 0:
        raise MetricError("FailedGetResourceMetric", "no metrics returned matched known pods")
    utilization = int(total_metric * 100 / total_request)
    return utilization / target, utilization, total_metric / len(metrics)


def resource_replicas(
    current: int,
    target_utilization: int,
    metrics: dict[str, float],
    requests: dict[str, float],
    pods: list[PodInfo],
    *,
    cpu: bool,
    tolerance: float,
) -> tuple[int, int, float]:
    """(replicas, utilization %, average raw usage) for a Utilization target."""
    _ready, unready, missing, ignored = group_pods(pods, metrics, cpu=cpu)
    metrics = {k: v for k, v in metrics.items() if k not in unready and k not in ignored}
    if not metrics:
        raise MetricError(
            "FailedGetResourceMetric",
            "did not receive metrics for targeted pods (pods might be unready)",
        )
    ratio, utilization, raw = utilization_ratio(metrics, requests, target_utilization)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if _within(ratio, tolerance):
            return current, utilization, raw
        return math.ceil(ratio * len(metrics)), utilization, raw
    if missing:
        for name in missing:
            if ratio < 1.0:
                metrics[name] = requests.get(name, 0) * max(100, target_utilization) / 100
            elif ratio > 1.0:
                metrics[name] = 0.0
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = 0.0
    new_ratio, _, _ = utilization_ratio(metrics, requests, target_utilization)
    if _within(new_ratio, tolerance) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, utilization, raw
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, utilization, raw
    return replicas, utilization, raw


def plain_replicas(
    current: int,
    target: float,
    metrics: dict[str, float],
    pods: list[PodInfo],
    *,
    cpu: bool,
    tolerance: float,
) -> tuple[int, float]:
    """(replicas, average usage) for an AverageValue target over pods (calcPlainMetricReplicas)."""
    if target <= 0:
        raise MetricError("InvalidMetricSourceType", "target average value must be positive")
    _ready, unready, missing, ignored = group_pods(pods, metrics, cpu=cpu)
    metrics = {k: v for k, v in metrics.items() if k not in unready and k not in ignored}
    if not metrics:
        raise MetricError(
            "FailedGetPodsMetric",
            "did not receive metrics for targeted pods (pods might be unready)",
        )
    usage = sum(metrics.values()) / len(metrics)
    ratio = usage / target
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if _within(ratio, tolerance):
            return current, usage
        return math.ceil(ratio * len(metrics)), usage
    if missing:
        for name in missing:
            if ratio < 1.0:
                metrics[name] = target
            elif ratio > 1.0:
                metrics[name] = 0.0
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = 0.0
    new_ratio = (sum(metrics.values()) / len(metrics)) / target
    if _within(new_ratio, tolerance) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, usage
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current, usage
    return replicas, usage


def object_value_replicas(
    current: int, usage: float, target: float, ready_pods: int, *, tolerance: float
) -> int:
    if target <= 0:
        raise MetricError("InvalidMetricSourceType", "target value must be positive")
    ratio = usage / target
    if current == 0 or _within(ratio, tolerance):
        return current
    return math.ceil(ratio * ready_pods)


def object_average_replicas(current: int, usage: float, target: float, *, tolerance: float) -> int:
    if target <= 0:
        raise MetricError("InvalidMetricSourceType", "target average value must be positive")
    if current == 0:
        return current
    ratio = usage / (target * current)
    if _within(ratio, tolerance):
        return current
    return math.ceil(usage / target)


def scale_up_limit(current: int, events: list[tuple[float, int]], rules: dict, at: float) -> int:
    policy = rules.get("selectPolicy") or "Max"
    if policy == "Disabled":
        return current
    result = None
    for rule in rules.get("policies") or []:
        period = rule.get("periodSeconds", 15)
        added = sum(change for ts, change in events if ts > at - period)
        start = current - added
        if rule.get("type") == "Pods":
            proposed = start + rule.get("value", 0)
        else:
            proposed = math.ceil(start * (1 + rule.get("value", 0) / 100))
        if result is None:
            result = proposed
        result = max(result, proposed) if policy == "Max" else min(result, proposed)
    return max(result if result is not None else current, current)


def scale_down_limit(current: int, events: list[tuple[float, int]], rules: dict, at: float) -> int:
    policy = rules.get("selectPolicy") or "Max"
    if policy == "Disabled":
        return current
    result = None
    for rule in rules.get("policies") or []:
        period = rule.get("periodSeconds", 15)
        deleted = sum(change for ts, change in events if ts > at - period)
        start = current + deleted
        if rule.get("type") == "Pods":
            proposed = start - rule.get("value", 0)
        else:
            proposed = int(start * (1 - rule.get("value", 0) / 100))
        if result is None:
            result = proposed
        result = min(result, proposed) if policy == "Max" else max(result, proposed)
    return min(result if result is not None else current, current)
