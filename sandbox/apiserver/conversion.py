"""Conversion between served versions and the storage version (HPAs: autoscaling v1 <-> v2).

The real API server stores HPAs as autoscaling/v2 and converts on the way in and out; v1 only
knows the CPU utilization target, so other v2 metrics are carried over from the stored object
when a v1 client writes (the real server keeps them in an annotation for the same reason).
"""

from __future__ import annotations

import copy

from sandbox.machinery.resources import ResourceType

HPA = "horizontalpodautoscalers.autoscaling"


def _cpu_metric_index(metrics: list) -> int | None:
    for i, m in enumerate(metrics):
        if (
            m.get("type") == "Resource"
            and (m.get("resource") or {}).get("name") == "cpu"
            and ((m.get("resource") or {}).get("target") or {}).get("type") == "Utilization"
        ):
            return i
    return None


def hpa_to_v1(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    out_spec: dict = {"scaleTargetRef": spec.get("scaleTargetRef")}
    if "minReplicas" in spec:
        out_spec["minReplicas"] = spec["minReplicas"]
    out_spec["maxReplicas"] = spec.get("maxReplicas")
    metrics = spec.get("metrics") or []
    idx = _cpu_metric_index(metrics)
    if idx is not None:
        out_spec["targetCPUUtilizationPercentage"] = metrics[idx]["resource"]["target"][
            "averageUtilization"
        ]
    status = obj.get("status") or {}
    out_status: dict = {}
    for key in ("observedGeneration", "lastScaleTime", "currentReplicas", "desiredReplicas"):
        if key in status:
            out_status[key] = status[key]
    out_status.setdefault("currentReplicas", 0)
    out_status.setdefault("desiredReplicas", 0)
    for cm in status.get("currentMetrics") or []:
        res = cm.get("resource") or {}
        if cm.get("type") == "Resource" and res.get("name") == "cpu":
            util = (res.get("current") or {}).get("averageUtilization")
            if util is not None:
                out_status["currentCPUUtilizationPercentage"] = util
    return {
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v1",
        "metadata": obj.get("metadata", {}),
        "spec": out_spec,
        "status": out_status,
    }


def hpa_from_v1(obj: dict, current: dict | None) -> dict:
    spec = obj.get("spec") or {}
    base_metrics = copy.deepcopy(((current or {}).get("spec") or {}).get("metrics") or [])
    idx = _cpu_metric_index(base_metrics)
    target = spec.get("targetCPUUtilizationPercentage")
    if target is not None:
        cpu = {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": target},
            },
        }
        if idx is None:
            base_metrics.insert(0, cpu)
        else:
            base_metrics[idx] = cpu
    elif idx is not None:
        base_metrics.pop(idx)
    out_spec = {k: v for k, v in spec.items() if k != "targetCPUUtilizationPercentage"}
    out_spec["metrics"] = base_metrics
    if current is not None and "behavior" in (current.get("spec") or {}):
        out_spec["behavior"] = copy.deepcopy(current["spec"]["behavior"])
    out = {
        "kind": "HorizontalPodAutoscaler",
        "apiVersion": "autoscaling/v2",
        "metadata": obj.get("metadata", {}),
        "spec": out_spec,
    }
    if current is not None and "status" in current:
        out["status"] = current["status"]
    return out


def to_version(rt: ResourceType, version: str, obj: dict) -> dict:
    """The stored object as a client of `version` sees it."""
    if rt.key == HPA and version == "v1":
        return hpa_to_v1(obj)
    return obj


def from_version(rt: ResourceType, version: str, obj: dict, current: dict | None) -> dict:
    """An object written by a client of `version`, in the storage version."""
    if rt.key == HPA and version == "v1":
        return hpa_from_v1(obj, current)
    return obj


def needs_conversion(rt: ResourceType, version: str) -> bool:
    return version != rt.storage_version
