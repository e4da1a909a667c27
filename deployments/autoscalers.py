"""Autoscalers without I/O: a request body checked and turned into an autoscaling/v2 HPA, and an
HPA (with its events) described in the request's own shape, with plain-words explanations.

The request speaks in three metric types a person thinks in:
  {"type": "cpu", "target_utilization": 50}                         % of the CPU request
  {"type": "memory", "target_utilization": 70 | "target_average_value": "512Mi"}
  {"type": "pods", "name": "requests_per_second", "target_average_value": "10"}
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError

from controlplane.kube.quantities import parse_quantity

METRIC_TYPES = ("cpu", "memory", "pods")
MAX_METRICS = 10
# Utilization is a percentage of the request; far above 100 is legal but 1000 is absurd.
MAX_UTILIZATION = 1000
# autoscaling/v2 allows at most one hour for a stabilization window.
MAX_STABILIZATION_SECONDS = 3600
FIELDS = ("min_replicas", "max_replicas", "metrics", "scale_down_stabilization_seconds")
# Kubernetes' own quantity syntax (resource.Quantity), stricter than the client's parser.
_QUANTITY = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?")
# Far beyond any request rate or memory size a pod could have (an int64 holds 9.2e18).
MAX_QUANTITY = 10**15
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,252}")
SCALE_TO_ZERO = (
    "Ensure this value is greater than or equal to 1. Scaling to zero is not supported: it "
    "needs the HPAScaleToZero feature gate and an object or external metric."
)


def _integer(value: object, *, low: int, high: int, errors: dict, field: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors[field] = ["A valid integer is required."]
        return None
    if value < low:
        errors[field] = [f"Ensure this value is greater than or equal to {low}."]
        return None
    if value > high:
        errors[field] = [f"Ensure this value is less than or equal to {high}."]
        return None
    return value


def _quantity(value: object, *, errors: dict, field: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors[field] = ['A quantity is required, e.g. "10", "500m" or "512Mi".']
        return None
    text = str(value).strip()
    try:
        if not _QUANTITY.fullmatch(text):
            raise ValueError(text)
        number = parse_quantity(text)
    except ValueError:
        errors[field] = [f'Not a quantity: {text!r} (e.g. "10", "500m" or "512Mi").']
        return None
    if number <= 0:
        errors[field] = [f"Ensure this quantity is greater than 0 (got {text!r})."]
        return None
    if number > MAX_QUANTITY:
        errors[field] = [f"Ensure this quantity is at most 1e15 (got {text!r})."]
        return None
    return text


def _metric(raw: object, index: int, errors: dict) -> dict | None:
    at = f"metrics[{index}]"
    if not isinstance(raw, dict):
        errors[at] = ["Expected an object with a type."]
        return None
    kind = raw.get("type")
    if kind not in METRIC_TYPES:
        errors[f"{at}.type"] = [
            f"Unknown metric type {kind!r}: expected one of {', '.join(METRIC_TYPES)}."
        ]
        return None
    allowed = {"type", "target_utilization", "target_average_value"}
    if kind == "pods":
        allowed = {"type", "name", "target_average_value"}
    for key in sorted(set(raw) - allowed):
        errors[f"{at}.{key}"] = [f"Unknown field for a {kind} metric."]
    metric: dict = {"type": kind}
    if kind == "pods":
        name = raw.get("name")
        if not isinstance(name, str) or not _METRIC_NAME.fullmatch(name):
            errors[f"{at}.name"] = [
                "A metric name is required: letters, digits, '_', '.', ':' or '-', "
                "starting with a letter or '_' (e.g. requests_per_second)."
            ]
        else:
            metric["name"] = name
        if "target_average_value" not in raw:
            errors[f"{at}.target_average_value"] = ["This field is required."]
        else:
            value = _quantity(
                raw["target_average_value"], errors=errors, field=f"{at}.target_average_value"
            )
            metric["target_average_value"] = value
        return metric
    has_utilization = "target_utilization" in raw
    has_value = "target_average_value" in raw
    if has_utilization == has_value:
        errors[f"{at}.target_utilization"] = [
            "Give exactly one of target_utilization (% of the request) and target_average_value."
        ]
        return metric
    if has_utilization:
        metric["target_utilization"] = _integer(
            raw["target_utilization"],
            low=1,
            high=MAX_UTILIZATION,
            errors=errors,
            field=f"{at}.target_utilization",
        )
    else:
        metric["target_average_value"] = _quantity(
            raw["target_average_value"], errors=errors, field=f"{at}.target_average_value"
        )
    return metric


def autoscaler_request_validate(data: object) -> dict:
    """The request body, checked: ValidationError naming each bad field, else the normalised
    request ({"min_replicas", "max_replicas", "metrics", "scale_down_stabilization_seconds"?})."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(data) - set(FIELDS)):
        errors[key] = ["Unknown field."]
    limit = settings.DEPLOYMENT_MAX_REPLICAS
    request: dict = {}
    raw_min = data.get("min_replicas", 1)
    if isinstance(raw_min, int) and not isinstance(raw_min, bool) and raw_min < 1:
        errors["min_replicas"] = [SCALE_TO_ZERO]
    else:
        request["min_replicas"] = _integer(
            raw_min, low=1, high=limit, errors=errors, field="min_replicas"
        )
    if "max_replicas" not in data:
        errors["max_replicas"] = ["This field is required."]
    else:
        request["max_replicas"] = _integer(
            data["max_replicas"], low=1, high=limit, errors=errors, field="max_replicas"
        )
    low, high = request.get("min_replicas"), request.get("max_replicas")
    if low is not None and high is not None and low > high:
        errors["min_replicas"] = [f"Ensure this value is not greater than max_replicas ({high})."]
    metrics = data.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        errors["metrics"] = ["A non-empty list of metrics is required."]
    elif len(metrics) > MAX_METRICS:
        errors["metrics"] = [f"Ensure this list has at most {MAX_METRICS} metrics."]
    else:
        request["metrics"] = [_metric(raw, i, errors) for i, raw in enumerate(metrics)]
        seen: set[tuple] = set()
        for i, metric in enumerate(request["metrics"]):
            if metric is None:
                continue  # already refused
            key = (metric["type"], metric.get("name"))
            if key in seen:
                errors[f"metrics[{i}]"] = ["The same metric is listed twice."]
            seen.add(key)
    if "scale_down_stabilization_seconds" in data:
        request["scale_down_stabilization_seconds"] = _integer(
            data["scale_down_stabilization_seconds"],
            low=0,
            high=MAX_STABILIZATION_SECONDS,
            errors=errors,
            field="scale_down_stabilization_seconds",
        )
    if errors:
        raise ValidationError(errors)
    return request


# Request -> HPA ------------------------------------------------------------------------------


def _metric_spec(metric: dict) -> dict:
    if metric["type"] == "pods":
        return {
            "type": "Pods",
            "pods": {
                "metric": {"name": metric["name"]},
                "target": {"type": "AverageValue", "averageValue": metric["target_average_value"]},
            },
        }
    if "target_utilization" in metric:
        target = {"type": "Utilization", "averageUtilization": metric["target_utilization"]}
    else:
        target = {"type": "AverageValue", "averageValue": metric["target_average_value"]}
    return {"type": "Resource", "resource": {"name": metric["type"], "target": target}}


def autoscaler_manifest(*, namespace: str, name: str, request: dict, labels: dict) -> dict:
    """The autoscaling/v2 HPA for deployment `name` (same name, same labels)."""
    spec: dict = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": request["min_replicas"],
        "maxReplicas": request["max_replicas"],
        "metrics": [_metric_spec(m) for m in request["metrics"]],
    }
    window = request.get("scale_down_stabilization_seconds")
    if window is not None:
        spec["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": window}}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": spec,
    }


# HPA -> description --------------------------------------------------------------------------


def _metric_key(block: dict) -> tuple[str, str]:
    kind = block.get("type", "")
    if kind == "Resource":
        return "Resource", (block.get("resource") or {}).get("name", "")
    if kind == "Pods":
        return "Pods", ((block.get("pods") or {}).get("metric") or {}).get("name", "")
    source = block.get(kind[:1].lower() + kind[1:]) or {}
    return kind, (source.get("metric") or {}).get("name", "") or source.get("name", "")


def _describe_metric(spec: dict, current: dict | None) -> dict:
    kind, name = _metric_key(spec)
    source = spec.get("resource") or spec.get("pods") or {}
    target = source.get("target") or {}
    row: dict = {"type": kind.lower() if kind != "Resource" else name, "name": name}
    if kind not in ("Resource", "Pods"):
        row["type"] = kind.lower()
    now = ((current or {}).get("resource") or (current or {}).get("pods") or {}).get("current")
    now = now or {}
    if target.get("type") == "Utilization":
        row["target_utilization"] = target.get("averageUtilization")
        row["current_utilization"] = now.get("averageUtilization")
        row["target"] = f"{target.get('averageUtilization')}%"
        value = now.get("averageUtilization")
        row["current"] = None if value is None else f"{value}%"
    else:
        wanted = target.get("averageValue") or target.get("value")
        row["target_average_value"] = wanted
        row["current_average_value"] = now.get("averageValue") or now.get("value")
        row["target"] = f"{wanted} (average)" if wanted is not None else None
        value = row["current_average_value"]
        row["current"] = None if value is None else f"{value} (average)"
    row["unknown"] = row["current"] is None
    return row


def autoscaler_request_of(hpa: dict) -> dict:
    """The HPA's spec in the request's shape (what a PUT would have sent)."""
    spec = hpa.get("spec") or {}
    metrics = []
    for block in spec.get("metrics") or []:
        kind, name = _metric_key(block)
        source = block.get("resource") or block.get("pods") or {}
        target = source.get("target") or {}
        metric: dict = {"type": name if kind == "Resource" else kind.lower()}
        if kind == "Pods":
            metric["name"] = name
        if target.get("type") == "Utilization":
            metric["target_utilization"] = target.get("averageUtilization")
        else:
            metric["target_average_value"] = target.get("averageValue") or target.get("value")
        metrics.append(metric)
    window = (((spec.get("behavior") or {}).get("scaleDown")) or {}).get(
        "stabilizationWindowSeconds"
    )
    return {
        "min_replicas": spec.get("minReplicas", 1),
        "max_replicas": spec.get("maxReplicas"),
        "metrics": metrics,
        "scale_down_stabilization_seconds": window,
    }


def _condition(status: dict, kind: str) -> dict:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return {}


_MISSING_REQUEST = re.compile(
    r"missing request for (?P<resource>\w+) in container (?P<container>\S+) of Pod (?P<pod>\S+)"
)


def containers_without_request(*, deployment: dict | None, resource: str) -> list[str]:
    """Names of the deployment's containers that request no `resource` (cpu, memory)."""
    template = (((deployment or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return [
        c.get("name", "")
        for c in template.get("containers") or []
        if resource not in ((c.get("resources") or {}).get("requests") or {})
    ]


def request_warnings(*, request: dict, deployment: dict | None) -> list[str]:
    """Warnings about a requested autoscaler that the deployment's spec already predicts."""
    if deployment is None:
        return []
    warnings = []
    for metric in request.get("metrics") or []:
        if metric.get("type") in ("cpu", "memory") and "target_utilization" in metric:
            missing = containers_without_request(deployment=deployment, resource=metric["type"])
            if missing:
                warnings.append(
                    f"{metric['type'].upper() if metric['type'] == 'cpu' else 'Memory'} "
                    f"utilization is a percentage of the {metric['type']} request, but "
                    f"container{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                    f"request{'' if len(missing) > 1 else 's'} no {metric['type']}: the metric "
                    "will stay <unknown> and the autoscaler will not scale on it. Set "
                    f"resources.requests.{metric['type']} on the deployment's containers, or "
                    "target an average value instead."
                )
    return warnings


def _explain_unknown(metric: dict, messages: list[str]) -> str:
    label = {"cpu": "CPU", "memory": "Memory"}.get(metric["type"], metric["type"])
    if metric["type"] in ("cpu", "memory"):
        for message in messages:
            found = _MISSING_REQUEST.search(message)
            if found and found.group("resource") == metric["type"]:
                return (
                    f"{label} utilization is <unknown> because container "
                    f"{found.group('container')} of pod {found.group('pod')} has no "
                    f"{metric['type']} request, and utilization is measured as a percentage of "
                    f"the request. Set resources.requests.{metric['type']} on the deployment's "
                    "containers (or target an average value instead)."
                )
        return (
            f"{label} usage is <unknown>: the metrics API (metrics-server) has no usage for the "
            "deployment's pods yet. Pods that are starting or not ready are not measured; if "
            "this lasts, check that metrics-server runs."
        )
    if metric["type"] == "pods":
        return (
            f"The custom metric {metric['name']} is <unknown>: the custom metrics API has no "
            "value of it for the deployment's pods. Check that the pods export it and that a "
            "metrics adapter (e.g. prometheus-adapter) serves it."
        )
    return f"The {metric['type']} metric {metric['name']} is <unknown>."


def autoscaler_describe(
    *, hpa: dict, events: list[dict], deployment: dict | None = None, recent: int = 10
) -> dict:
    """What the page and the API show of an HPA: spec, current against target per metric,
    replicas, conditions, recent events, and plain explanations of what is wrong."""
    status = hpa.get("status") or {}
    current = {_metric_key(block): block for block in status.get("currentMetrics") or []}
    metrics = [
        _describe_metric(block, current.get(_metric_key(block)))
        for block in (hpa.get("spec") or {}).get("metrics") or []
    ]
    conditions = [
        {
            "type": c.get("type", ""),
            "status": c.get("status", ""),
            "reason": c.get("reason", ""),
            "message": c.get("message", ""),
            "last_transition_time": c.get("lastTransitionTime"),
        }
        for c in status.get("conditions") or []
    ]
    ordered = sorted(
        events,
        key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "",
        reverse=True,
    )
    shown = [
        {
            "type": e.get("type", ""),
            "reason": e.get("reason", ""),
            "message": e.get("message", ""),
            "count": e.get("count") or 1,
            "last_seen": e.get("lastTimestamp") or e.get("eventTime"),
        }
        for e in ordered[:recent]
    ]
    messages = [c["message"] for c in conditions] + [e.get("message", "") for e in ordered]
    explanations = [_explain_unknown(m, messages) for m in metrics if m["unknown"]]
    spec = autoscaler_request_of(hpa)
    active = _condition(status, "ScalingActive")
    able = _condition(status, "AbleToScale")
    limited = _condition(status, "ScalingLimited")
    if able.get("status") == "False":
        explanations.append(
            f"The autoscaler cannot change the deployment's scale ({able.get('reason')}): "
            f"{able.get('message')}."
        )
    if active.get("reason") == "ScalingDisabled":
        explanations.append(
            "Autoscaling is paused because the deployment runs 0 replicas; scale it to at least "
            "1 and the autoscaler takes over again."
        )
    if limited.get("status") == "True" and limited.get("reason") == "TooManyReplicas":
        explanations.append(
            f"The metrics ask for more replicas than max_replicas ({spec['max_replicas']}) "
            "allows; raise max_replicas if the load is real."
        )
    if limited.get("status") == "True" and limited.get("reason") == "TooFewReplicas":
        explanations.append(
            f"The metrics ask for fewer replicas than min_replicas ({spec['min_replicas']}); "
            "the autoscaler keeps the minimum."
        )
    for warning in request_warnings(request=spec, deployment=deployment):
        # A metric already explained as unknown for want of a request needs no second word.
        if not any(" request, and utilization" in e and e[:3] == warning[:3] for e in explanations):
            explanations.append(warning)
    meta = hpa.get("metadata") or {}
    return {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "labels": meta.get("labels") or {},
        "resource_version": meta.get("resourceVersion"),
        "spec": spec,
        "status": {
            "current_replicas": status.get("currentReplicas"),
            "desired_replicas": status.get("desiredReplicas"),
            "last_scale_time": status.get("lastScaleTime"),
            "metrics": metrics,
            "conditions": conditions,
            "events": shown,
        },
        "explanations": explanations,
    }


def autoscaler_brief(hpa: dict | None) -> dict | None:
    """The few fields the deployments table shows of an HPA (min, max, desired)."""
    if not hpa:
        return None
    spec = hpa.get("spec") or {}
    status = hpa.get("status") or {}
    return {
        "min_replicas": spec.get("minReplicas", 1),
        "max_replicas": spec.get("maxReplicas"),
        "desired_replicas": status.get("desiredReplicas"),
    }


def scale_warning(brief: dict) -> str:
    """What a manual scale is told while an HPA manages the deployment."""
    return (
        f"managed by an autoscaler (min {brief['min_replicas']}, max {brief['max_replicas']}): "
        "it will override this replica count; change its limits instead"
    )
