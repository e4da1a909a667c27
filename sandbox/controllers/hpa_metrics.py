"""Reading one HPA metric and turning it into a replica proposal (autoscaling/v2 metric types).

Resource and ContainerResource metrics come from the usage model (what metrics.k8s.io
serves), Pods and Object metrics from the scripted custom metrics; each produces the proposal
of sandbox.controllers.hpa_replicas and the MetricStatus the HPA reports for it.
"""

from __future__ import annotations

import math
from typing import Any

from sandbox.controllers import hpa_replicas as calc
from sandbox.controllers.hpa_replicas import MetricError, PodInfo
from sandbox.machinery.quantity import millicores, parse_quantity, quantity_bytes
from sandbox.machinery.util import get_condition, now, parse_time, pod_is_ready


class MetricReader:
    def __init__(self, metrics: Any, config: Any) -> None:
        self.metrics = metrics
        self.config = config
        self.tolerance = config.hpa_tolerance

    def proposal(
        self, spec: dict, pods: list[dict], current: int, ns: str
    ) -> tuple[int, str, dict]:
        """(replicas, metric name for messages, MetricStatus) for one metric spec."""
        return self._one(spec, pods, current, ns)

    def _one(self, spec: dict, pods: list[dict], current: int, ns: str) -> tuple[int, str, dict]:
        kind = spec.get("type")
        tolerance = self.tolerance
        at = now()
        sample_time, window = self.metrics.sample_time(at)
        infos = [
            _info(
                p,
                at=at,
                sample_time=sample_time,
                window=window,
                init_period=self.config.hpa_cpu_initialization_seconds,
                readiness_delay=self.config.hpa_initial_readiness_delay_seconds,
            )
            for p in pods
        ]
        if kind in ("Resource", "ContainerResource"):
            source = spec.get("resource" if kind == "Resource" else "containerResource") or {}
            resource = source.get("name", "cpu")
            container = source.get("container") if kind == "ContainerResource" else None
            target = source.get("target") or {}
            metrics = self._resource_metrics(pods, resource, container)
            prefix = f"{resource} container resource" if container else f"{resource} resource"
            if not pods:
                raise MetricError(
                    "FailedGetResourceMetric",
                    f"failed to get {resource} utilization: no pods returned by selector while "
                    "calculating replica count",
                )
            if target.get("type") == "AverageValue":
                avg_target = _raw_quantity(target.get("averageValue"), resource)
                replicas, usage = calc.plain_replicas(
                    current, avg_target, metrics, infos, cpu=resource == "cpu", tolerance=tolerance
                )
                current_block = {"averageValue": _format_raw(usage, resource)}
                name = prefix
            else:
                requests = self._requests(pods, resource, container)
                utilization_target = int(target.get("averageUtilization", 80))
                try:
                    replicas, utilization, raw = calc.resource_replicas(
                        current,
                        utilization_target,
                        metrics,
                        requests,
                        infos,
                        cpu=resource == "cpu",
                        tolerance=tolerance,
                    )
                except MetricError as exc:
                    raise MetricError(
                        exc.reason, f"failed to get {resource} utilization: {exc.message}"
                    ) from exc
                current_block = {
                    "averageUtilization": utilization,
                    "averageValue": _format_raw(raw, resource),
                }
                name = f"{prefix} utilization (percentage of request)"
            block: dict[str, Any] = {"name": resource, "current": current_block}
            if container:
                block["container"] = container
            status_key = "resource" if kind == "Resource" else "containerResource"
            return replicas, name, {"type": kind, status_key: block}
        if kind == "Pods":
            source = spec.get("pods") or {}
            metric_name = (source.get("metric") or {}).get("name", "")
            target = _plain_quantity((source.get("target") or {}).get("averageValue"))
            metrics = {}
            for pod in pods:
                value = self.metrics.pod_metric(pod, metric_name) if _running(pod) else None
                if value is not None:
                    metrics[pod["metadata"]["name"]] = value
            if not metrics:
                raise MetricError(
                    "FailedGetPodsMetric",
                    f"failed to get pods metric value: unable to get metric {metric_name}: "
                    "no metrics returned from custom metrics API",
                )
            replicas, usage = calc.plain_replicas(
                current, target, metrics, infos, cpu=False, tolerance=tolerance
            )
            return (
                replicas,
                f"pods metric {metric_name}",
                {
                    "type": "Pods",
                    "pods": {
                        "metric": dict(source.get("metric") or {}),
                        "current": {"averageValue": _format_plain(usage)},
                    },
                },
            )
        if kind == "Object":
            source = spec.get("object") or {}
            described = source.get("describedObject") or {}
            metric_name = (source.get("metric") or {}).get("name", "")
            value = self.metrics.object_metric(
                ns, described.get("kind", ""), described.get("name", ""), metric_name
            )
            if value is None:
                raise MetricError(
                    "FailedGetObjectMetric",
                    f"failed to get object metric value: unable to get metric {metric_name}: "
                    f"{described.get('kind', '')} on {ns} {described.get('name', '')}/"
                    "unable to fetch "
                    "metrics from custom metrics API: the server could not find the metric "
                    f"{metric_name} for {described.get('kind', '').lower()}s",
                )
            target = source.get("target") or {}
            if target.get("type") == "AverageValue":
                avg = _plain_quantity(target.get("averageValue"))
                replicas = calc.object_average_replicas(current, value, avg, tolerance=tolerance)
                current_block = {"averageValue": _format_plain(value / max(current, 1))}
            else:
                ready = sum(1 for i in infos if i.phase == "Running" and i.ready and not i.deleting)
                replicas = calc.object_value_replicas(
                    current, value, _plain_quantity(target.get("value")), ready, tolerance=tolerance
                )
                current_block = {"value": _format_plain(value)}
            return (
                replicas,
                f"{described.get('kind', '')} metric {metric_name}",
                {
                    "type": "Object",
                    "object": {
                        "describedObject": dict(described),
                        "metric": dict(source.get("metric") or {}),
                        "current": current_block,
                    },
                },
            )
        if kind == "External":
            name = ((spec.get("external") or {}).get("metric") or {}).get("name", "")
            raise MetricError(
                "FailedGetExternalMetric",
                f"unable to get external metric {ns}/{name}: "
                "no external metrics API is served by the sandbox",
            )
        raise MetricError("InvalidMetricSourceType", f"unknown metric source type {kind!r}")

    def _resource_metrics(
        self, pods: list[dict], resource: str, container: str | None
    ) -> dict[str, float]:
        out = {}
        for pod in pods:
            usage = self.metrics.pod_usage(pod)
            if not usage:
                continue
            if container is not None:
                if container not in usage:
                    continue
                cpu, mem = usage[container]
                out[pod["metadata"]["name"]] = cpu if resource == "cpu" else mem
            else:
                index = 0 if resource == "cpu" else 1
                out[pod["metadata"]["name"]] = sum(v[index] for v in usage.values())
        return out

    def _requests(self, pods: list[dict], resource: str, container: str | None) -> dict[str, float]:
        out: dict[str, float] = {}
        for pod in pods:
            total = 0.0
            for c in pod["spec"].get("containers") or []:
                if container is not None and c["name"] != container:
                    continue
                requests = (c.get("resources") or {}).get("requests") or {}
                if resource not in requests:
                    raise MetricError(
                        "FailedGetResourceMetric",
                        f"failed to get {resource} utilization: missing request for {resource} in "
                        f"container {c['name']} of Pod {pod['metadata']['name']}",
                    )
                value = requests[resource]
                total += millicores(value) if resource == "cpu" else quantity_bytes(value)
            out[pod["metadata"]["name"]] = total
        return out

    # -- stabilization and rate limits -------------------------------------------------------


def _info(
    pod: dict,
    *,
    at: float,
    sample_time: float,
    window: float,
    init_period: float,
    readiness_delay: float,
) -> PodInfo:
    return PodInfo(
        name=pod["metadata"]["name"],
        phase=(pod.get("status") or {}).get("phase", "Pending"),
        ready=pod_is_ready(pod),
        deleting=bool(pod["metadata"].get("deletionTimestamp")),
        cpu_unready=_cpu_unready(pod, at, sample_time, window, init_period, readiness_delay),
    )


def _cpu_unready(
    pod: dict, at: float, sample_time: float, window: float, init_period: float, delay: float
) -> bool:
    """Upstream's rule for ignoring a pod's CPU sample as start-up noise."""
    status = pod.get("status") or {}
    cond = get_condition(status, "Ready")
    started = parse_time(status.get("startTime"))
    if cond is None or started is None:
        return True
    transition = parse_time(cond.get("lastTransitionTime")) or started
    if started + init_period > at:
        # Still starting: unready, or ready for less than one metric window.
        return cond.get("status") == "False" or sample_time < transition + window
    # Later on, only a pod that has never been ready since start-up is ignored.
    return cond.get("status") == "False" and started + delay > transition


def _running(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


def _raw_quantity(value: Any, resource: str) -> float:
    if value is None:
        raise MetricError("InvalidMetricSourceType", f"missing target averageValue for {resource}")
    return float(millicores(value)) if resource == "cpu" else float(quantity_bytes(value))


def _plain_quantity(value: Any) -> float:
    if value is None:
        raise MetricError("InvalidMetricSourceType", "missing metric target value")
    return float(parse_quantity(value))


def _format_raw(value: float, resource: str) -> str:
    if resource == "cpu":
        return f"{math.ceil(value)}m"
    return str(math.ceil(value))


def _format_plain(value: float) -> str:
    milli = round(value * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
