"""HorizontalPodAutoscaler controller (autoscaling/v2), after kube-controller-manager's.

Every sync period each HPA reads its target's scale, computes a replica proposal per metric
(sandbox.controllers.hpa_replicas), takes the largest, stabilizes it (scale-down window and
behavior policies), writes the target's replicas and reports status, conditions and events
with the upstream reasons and messages.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from sandbox.controllers import hpa_replicas as calc
from sandbox.controllers.base import Controller
from sandbox.controllers.cache import Caches
from sandbox.controllers.hpa_replicas import MetricError, PodInfo
from sandbox.controllers.util import (
    deepcopy,
    millicores,
    now,
    parse_quantity,
    pod_is_ready,
    quantity_bytes,
    rfc3339,
    set_condition,
)
from sandbox.selectors import label_matcher

log = logging.getLogger(__name__)
COMPONENT = "horizontal-pod-autoscaler"
RESOURCE = "horizontalpodautoscalers.autoscaling"
_TARGETS = {
    ("apps", "Deployment"): "deployments.apps",
    ("apps", "ReplicaSet"): "replicasets.apps",
}
_DEFAULT_METRICS = [
    {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
    }
]
DOWN_STABILIZED = (
    "recent recommendations were higher than current one, "
    "applying the highest recent recommendation"
)
UP_STABILIZED = (
    "recent recommendations were lower than current one, applying the lowest recent recommendation"
)
UP_LIMITED = "the desired replica count is increasing faster than the maximum scale rate"
DOWN_LIMITED = "the desired replica count is decreasing faster than the maximum scale rate"
_SCALE_UP_DEFAULT = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_SCALE_DOWN_DEFAULT = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}


class HorizontalPodAutoscalerController(Controller):
    name = "horizontal-pod-autoscaler"

    def __init__(self, cluster: Any, caches: Caches) -> None:
        super().__init__(cluster)
        self.caches = caches
        self.cluster_ref = cluster
        self._recommendations: dict[str, list[tuple[float, int]]] = {}
        self._up_events: dict[str, list[tuple[float, int]]] = {}
        self._down_events: dict[str, list[tuple[float, int]]] = {}

    def setup(self) -> None:
        self.watch(RESOURCE, self._on_hpa)

    def initial_keys(self):
        return [
            (h["metadata"]["namespace"], h["metadata"]["name"]) for h in self.store.list(RESOURCE)
        ]

    def _on_hpa(self, event_type: str, obj: dict, old: dict | None) -> None:
        uid = obj["metadata"].get("uid", "")
        if event_type == "DELETED":
            for table in (self._recommendations, self._up_events, self._down_events):
                table.pop(uid, None)
            return
        if old is not None and old.get("spec") == obj.get("spec"):
            return  # our own status write
        self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    @property
    def metrics(self) -> Any:
        return self.cluster_ref.metrics

    # -- reconcile ---------------------------------------------------------------------------

    def reconcile(self, key: tuple[str, str]) -> None:
        stored = self.store.get(RESOURCE, *key)
        if stored is None:
            return
        try:
            self._reconcile(deepcopy(stored))
        finally:
            self.requeue_after(key, self.config.hpa_sync_seconds)

    def _reconcile(self, hpa: dict) -> None:
        spec = hpa["spec"]
        status = hpa.setdefault("status", {})
        status.setdefault("currentReplicas", 0)
        status.setdefault("desiredReplicas", 0)
        ns = hpa["metadata"]["namespace"]
        ref = spec.get("scaleTargetRef") or {}
        group = (
            (ref.get("apiVersion") or "").split("/")[0]
            if "/" in (ref.get("apiVersion") or "")
            else ""
        )
        resource = _TARGETS.get((group, ref.get("kind", "")))
        target = self.store.get(resource, ns, ref.get("name", "")) if resource else None
        if target is None:
            kind = ref.get("kind", "")
            message = (
                f"the HPA controller was unable to get the target's current scale: "
                f'{(resource or kind.lower() + "s")} "{ref.get("name", "")}" not found'
            )
            if resource is None:
                message = (
                    "the HPA controller was unable to get the target's current scale: "
                    f'no matches for kind "{kind}" in group "{group}"'
                )
            set_condition(status, "AbleToScale", "False", "FailedGetScale", message)
            self._event(hpa, "FailedGetScale", message.split(": ", 1)[1], warning=True)
            self._write(hpa)
            return
        set_condition(
            status,
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = int((target.get("spec") or {}).get("replicas", 1))
        min_replicas = int(spec.get("minReplicas", 1))
        max_replicas = int(spec["maxReplicas"])
        status["currentReplicas"] = current
        metric_statuses: list[dict] = []
        rescale_reason = ""
        if current == 0 and min_replicas != 0:
            desired = 0
            set_condition(
                status,
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
        elif current > max_replicas:
            desired, rescale_reason = (
                max_replicas,
                "Current number of replicas above Spec.MaxReplicas",
            )
        elif current < min_replicas:
            desired, rescale_reason = (
                min_replicas,
                "Current number of replicas below Spec.MinReplicas",
            )
        else:
            try:
                proposal, metric_name, metric_statuses = self._compute(hpa, target, current)
            except MetricError as exc:
                status["currentMetrics"] = getattr(exc, "statuses", None) or None
                if status["currentMetrics"] is None:
                    status.pop("currentMetrics")
                self._write(hpa)
                return
            set_condition(
                status,
                "ScalingActive",
                "True",
                "ValidMetricFound",
                f"the HPA was able to successfully calculate a replica count from {metric_name}",
            )
            desired = self._normalize(hpa, current, proposal, min_replicas, max_replicas)
            if desired > current:
                rescale_reason = f"{metric_name} above target"
            elif desired < current:
                rescale_reason = "All metrics below target"
        if metric_statuses:
            status["currentMetrics"] = metric_statuses
        if desired != current:
            self._rescale(hpa, resource, target, current, desired, rescale_reason)
        status["desiredReplicas"] = desired
        self._write(hpa)

    # -- metrics -----------------------------------------------------------------------------

    def _compute(self, hpa: dict, target: dict, current: int) -> tuple[int, str, list[dict]]:
        specs = hpa["spec"].get("metrics") or _DEFAULT_METRICS
        selector = (target.get("spec") or {}).get("selector")
        match = label_matcher(selector) if selector else None
        ns = hpa["metadata"]["namespace"]
        # Narrow by the matchLabels through the label index, then apply the full selector.
        candidates = self.caches.pods_with_labels(ns, (selector or {}).get("matchLabels") or {})
        pods = [p for p in candidates if match is not None and match(p)]
        best, best_name = 0, ""
        statuses: list[dict] = []
        errors: list[MetricError] = []
        for spec in specs:
            try:
                proposal, name, status = self._one(spec, pods, current, ns)
            except MetricError as exc:
                errors.append(exc)
                statuses.append({"type": ""})
                status_obj = hpa["status"]
                set_condition(
                    status_obj,
                    "ScalingActive",
                    "False",
                    exc.reason,
                    f"the HPA was unable to compute the replica count: {exc.message}",
                )
                self._event(hpa, exc.reason, exc.message, warning=True)
                continue
            statuses.append(status)
            if best == 0 or proposal > best:
                best, best_name = proposal, name
        if errors and (len(errors) >= len(specs) or best < current):
            self._event(
                hpa,
                "FailedComputeMetricsReplicas",
                f"invalid metrics ({len(errors)} invalid out of {len(specs)}), first error is: "
                f"{errors[0].message}",
                warning=True,
            )
            error = MetricError(errors[0].reason, errors[0].message)
            error.statuses = [s for s in statuses if s.get("type")]  # type: ignore[attr-defined]
            raise error
        # Upstream leaves an empty entry for a failed metric; clients render those as
        # "<unknown>", and leaving them out reads the same while keeping every entry valid.
        return best, best_name, [s for s in statuses if s.get("type")]

    def _one(self, spec: dict, pods: list[dict], current: int, ns: str) -> tuple[int, str, dict]:
        kind = spec.get("type")
        tolerance = self.config.hpa_tolerance
        infos = [_info(p) for p in pods]
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

    def _normalize(self, hpa: dict, current: int, proposal: int, min_r: int, max_r: int) -> int:
        uid = hpa["metadata"]["uid"]
        status = hpa["status"]
        behavior = hpa["spec"].get("behavior")
        at = now()
        scale_up = {**_SCALE_UP_DEFAULT, **((behavior or {}).get("scaleUp") or {})}
        scale_down = {**_SCALE_DOWN_DEFAULT, **((behavior or {}).get("scaleDown") or {})}
        down_window = scale_down.get("stabilizationWindowSeconds")
        if down_window is None:
            down_window = self.config.hpa_downscale_stabilization_seconds
        up_window = scale_up.get("stabilizationWindowSeconds") or 0
        history = self._recommendations.setdefault(uid, [])
        horizon = max(up_window, down_window)
        history[:] = [(ts, r) for ts, r in history if ts > at - horizon]
        up_rec = down_rec = proposal
        for ts, rec in history:
            if ts > at - up_window:
                up_rec = min(up_rec, rec)
            if ts > at - down_window:
                down_rec = max(down_rec, rec)
        history.append((at, proposal))
        stabilized = current
        if stabilized > down_rec:
            stabilized = down_rec
        if stabilized < up_rec:
            stabilized = up_rec
        if stabilized != proposal:
            if stabilized > proposal:
                set_condition(
                    status,
                    "AbleToScale",
                    "True",
                    "ScaleDownStabilized",
                    DOWN_STABILIZED,
                )
            else:
                set_condition(
                    status,
                    "AbleToScale",
                    "True",
                    "ScaleUpStabilized",
                    UP_STABILIZED,
                )
        else:
            set_condition(
                status,
                "AbleToScale",
                "True",
                "ReadyForNewScale",
                "recommended size matches current size",
            )

        desired, reason, message = (
            stabilized,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        )
        if behavior is None:
            # Without behavior the legacy rule applies: at most double (or 4) per sync.
            up_limit = max(2 * current, 4)
            if stabilized > current and stabilized > min(up_limit, max_r):
                desired = min(up_limit, max_r)
                reason, message = (
                    (
                        "ScaleUpLimit",
                        UP_LIMITED,
                    )
                    if up_limit < max_r
                    else (
                        "TooManyReplicas",
                        "the desired replica count is more than the maximum replica count",
                    )
                )
            elif stabilized < min_r:
                desired = min_r
                reason, message = (
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                )
        elif stabilized > current:
            limit = calc.scale_up_limit(
                current, self._recent(self._up_events, uid, at), scale_up, at
            )
            allowed = min(max_r, limit)
            if stabilized > allowed:
                desired = allowed
                reason, message = (
                    (
                        "ScaleUpLimit",
                        UP_LIMITED,
                    )
                    if limit < max_r
                    else (
                        "TooManyReplicas",
                        "the desired replica count is more than the maximum replica count",
                    )
                )
        elif stabilized < current:
            limit = calc.scale_down_limit(
                current, self._recent(self._down_events, uid, at), scale_down, at
            )
            allowed = max(min_r, limit)
            if stabilized < allowed:
                desired = allowed
                reason, message = (
                    (
                        "ScaleDownLimit",
                        DOWN_LIMITED,
                    )
                    if limit > min_r
                    else (
                        "TooFewReplicas",
                        "the desired replica count is less than the minimum replica count",
                    )
                )
        if desired > max_r:
            desired = max_r
            reason, message = (
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count",
            )
        if desired < min_r:
            desired = min_r
            reason, message = (
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count",
            )
        limited = "False" if reason == "DesiredWithinRange" else "True"
        set_condition(status, "ScalingLimited", limited, reason, message)
        return desired

    def _recent(self, table: dict, uid: str, at: float) -> list[tuple[float, int]]:
        events = table.setdefault(uid, [])
        events[:] = [(ts, c) for ts, c in events if ts > at - 3600]
        return events

    def _rescale(
        self, hpa: dict, resource: str, target: dict, current: int, desired: int, reason: str
    ) -> None:
        updated = deepcopy(target)
        updated["spec"]["replicas"] = desired
        try:
            self.store.update(resource, updated)
        except Exception as exc:
            message = getattr(exc, "message", str(exc))
            set_condition(
                hpa["status"],
                "AbleToScale",
                "False",
                "FailedUpdateScale",
                f"the HPA controller was unable to update the target scale: {message}",
            )
            self._event(
                hpa,
                "FailedRescale",
                f"New size: {desired}; reason: {reason}; error: {message}",
                warning=True,
            )
            raise
        uid = hpa["metadata"]["uid"]
        at = now()
        if desired > current:
            self._up_events.setdefault(uid, []).append((at, desired - current))
        else:
            self._down_events.setdefault(uid, []).append((at, current - desired))
        status = hpa["status"]
        status["lastScaleTime"] = rfc3339(at)
        set_condition(
            status,
            "AbleToScale",
            "True",
            "SucceededRescale",
            f"the HPA controller was able to update the target scale to {desired}",
        )
        self._event(hpa, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")

    # -- output ------------------------------------------------------------------------------

    def _write(self, hpa: dict) -> None:
        status = hpa["status"]
        status["observedGeneration"] = hpa["metadata"].get("generation", 1)
        order = {"AbleToScale": 0, "ScalingActive": 1, "ScalingLimited": 2}
        status["conditions"] = sorted(
            status.get("conditions") or [], key=lambda c: order.get(c["type"], 3)
        )
        stored = self.store.get(RESOURCE, hpa["metadata"]["namespace"], hpa["metadata"]["name"])
        if stored is not None and stored.get("status") != status:
            self.store.update_status(RESOURCE, hpa)

    def _event(self, hpa: dict, reason: str, message: str, *, warning: bool = False) -> None:
        self.store.record_event(
            hpa,
            reason=reason,
            message=message,
            type="Warning" if warning else "Normal",
            component=COMPONENT,
        )


def _info(pod: dict) -> PodInfo:
    return PodInfo(
        name=pod["metadata"]["name"],
        phase=(pod.get("status") or {}).get("phase", "Pending"),
        ready=pod_is_ready(pod),
        deleting=bool(pod["metadata"].get("deletionTimestamp")),
    )


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
