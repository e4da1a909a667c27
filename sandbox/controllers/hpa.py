"""HorizontalPodAutoscaler controller (autoscaling/v2), after kube-controller-manager's.

Every sync period each HPA reads its target's scale, computes a replica proposal per metric
(sandbox.controllers.hpa_replicas), takes the largest, stabilizes it (scale-down window and
behavior policies), writes the target's replicas and reports status, conditions and events
with the upstream reasons and messages.
"""

from __future__ import annotations

import logging
from typing import Any

from sandbox.controllers import hpa_replicas as calc
from sandbox.controllers.hpa_metrics import MetricReader
from sandbox.controllers.hpa_replicas import MetricError
from sandbox.machinery.base import Controller
from sandbox.machinery.cache import Caches
from sandbox.machinery.selectors import label_matcher
from sandbox.machinery.util import (
    deepcopy,
    now,
    rfc3339,
    set_condition,
)

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
            (h["metadata"]["namespace"], h["metadata"]["name"]) for h in self.api.list(RESOURCE)
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
        stored = self.api.get(RESOURCE, *key)
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
        target = self.api.get(resource, ns, ref.get("name", "")) if resource else None
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
                reader = MetricReader(self.metrics, self.config)
                proposal, name, status = reader.proposal(spec, pods, current, ns)
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
            self.api.update(resource, updated)
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
        stored = self.api.get(RESOURCE, hpa["metadata"]["namespace"], hpa["metadata"]["name"])
        if stored is not None and stored.get("status") != status:
            self.api.update_status(RESOURCE, hpa)

    def _event(self, hpa: dict, reason: str, message: str, *, warning: bool = False) -> None:
        self.api.record_event(
            hpa,
            reason=reason,
            message=message,
            type="Warning" if warning else "Normal",
            component=COMPONENT,
        )
