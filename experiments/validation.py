"""Checks of experiment bodies, each problem a ValidationError naming its field
("variants[1].weight": ...), so a client knows exactly what to fix and nothing is stored.

Deployments and Services are looked up in the watcher's cache, never with a cluster call on the
request path: when the cache is synced and lacks one, the request is refused naming it; when
the cache cannot be trusted (no watcher), the worker finds out when the experiment starts.
"""

from __future__ import annotations

import logging
import math

import redis
from django.conf import settings
from django.core.exceptions import ValidationError

from controlplane.kube.names import dns1123_label_problem, dns1123_subdomain_problem
from controlplane.live.cache import cached_object

log = logging.getLogger(__name__)

MISSING = object()
ROUTINGS = ("fanout", "weighted", "sticky")
# Metrics with their kind: "rate" (two-proportion), "mean" (Welch), "ratio" (delta method),
# "quantile" (Welch over per-bucket quantiles); where each comes from.
METRICS: dict[str, tuple[str, str]] = {
    "conversion": ("rate", "feedback"),
    "value": ("mean", "feedback"),
    "error_rate": ("rate", "collected"),
    "latency_mean": ("ratio", "collected"),
    "latency_p95": ("quantile", "collected"),
    "latency_p99": ("quantile", "collected"),
}
GUARDRAIL_METRICS = ("error_rate", "latency_mean", "latency_p95", "latency_p99")
GUARDRAIL_ACTIONS = ("pause", "rollback")
# HTTPRoute allows 16 rules; sticky routing uses two per variant plus the weighted one.
MAX_VARIANTS = 7
HYPOTHESIS_MAX = 2000
MAX_DURATION = 90 * 24 * 3600
MAX_SAMPLES = 10**9


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _cached(cluster, kind: str, namespace: str, name: str) -> tuple[dict | None, bool]:
    try:
        return cached_object(cluster_name=cluster.name, kind=kind, namespace=namespace, name=name)
    except redis.RedisError as exc:
        log.warning("live cache unreachable; the worker will find out: %s", exc)
        return None, False


def _service_port(service: dict | None, port: object, where: str, errors: dict) -> int | None:
    ports = [p.get("port") for p in ((service or {}).get("spec") or {}).get("ports") or []]
    if port is MISSING or port is None:
        return ports[0] if ports else 80
    if not _is_int(port) or not 1 <= port <= 65535:
        errors[f"{where}.port"] = ["A port number from 1 to 65535 is required."]
        return None
    if service is not None and port not in ports:
        errors[f"{where}.port"] = [
            f"The Service has no port {port} (it has: {', '.join(map(str, ports)) or 'none'})."
        ]
        return None
    return port


def validate_variants(
    value: object, *, cluster, namespace: str, errors: dict, check_cluster: bool = True
) -> list[dict]:
    if value is MISSING:
        errors["variants"] = ["This field is required."]
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        errors["variants"] = ["Expected a list of objects."]
        return []
    if not 2 <= len(value) <= MAX_VARIANTS:
        errors["variants"] = [
            f"An experiment needs 2 to {MAX_VARIANTS} variants (got {len(value)})."
        ]
        return []
    cleaned: list[dict] = []
    names: set[str] = set()
    for i, raw in enumerate(value):
        where = f"variants[{i}]"
        unknown = set(raw) - {"name", "deployment", "service", "port", "weight", "control"}
        if unknown:
            errors[where] = [f"Unknown fields: {', '.join(sorted(unknown))}."]
        name = raw.get("name", MISSING)
        if problem := dns1123_label_problem(None if name is MISSING else name):
            errors[f"{where}.name"] = [f"{name!r}: {problem}" if name is not MISSING else problem]
        elif name in names:
            errors[f"{where}.name"] = [f"Another variant is already named {name!r}."]
        else:
            names.add(name)
        deployment = raw.get("deployment", MISSING)
        service = raw.get("service", MISSING)
        if problem := dns1123_subdomain_problem(None if deployment is MISSING else deployment):
            errors[f"{where}.deployment"] = [problem]
            deployment = None
        if problem := dns1123_label_problem(None if service is MISSING else service):
            errors[f"{where}.service"] = [problem]
            service = None
        weight = raw.get("weight", MISSING)
        if weight is MISSING:
            errors[f"{where}.weight"] = ["This field is required."]
        elif not _is_int(weight) or not 0 <= weight <= 100:
            errors[f"{where}.weight"] = ["A whole percentage from 0 to 100 is required."]
        control = raw.get("control", False)
        if not isinstance(control, bool):
            errors[f"{where}.control"] = ["Must be true or false."]
        found_service = None
        if check_cluster and deployment:
            obj, trusted = _cached(cluster, "deployments", namespace, deployment)
            if obj is None and trusted:
                errors[f"{where}.deployment"] = [
                    f"No deployment {deployment!r} in namespace {namespace}."
                ]
        if check_cluster and service:
            found_service, trusted = _cached(cluster, "services", namespace, service)
            if found_service is None and trusted:
                errors[f"{where}.service"] = [f"No Service {service!r} in namespace {namespace}."]
        port = _service_port(found_service, raw.get("port", MISSING), where, errors)
        cleaned.append(
            {
                "name": name,
                "deployment": deployment,
                "service": service,
                "port": port,
                "weight": weight,
                "control": control is True,
            }
        )
    if not any(k.startswith("variants[") for k in errors):
        controls = [v for v in cleaned if v["control"]]
        if len(controls) != 1:
            errors["variants"] = [
                f"Exactly one variant must be the control (found {len(controls)})."
            ]
        total = sum(v["weight"] for v in cleaned)
        if total != 100:
            errors["variants"] = [
                *errors.get("variants", []),
                f"The weights must sum to 100 (they sum to {total}).",
            ]
    return cleaned


def validate_weights(value: object, *, variants: list[str]) -> dict[str, int]:
    """{"weights": {variant: percent}} for every variant, summing to 100."""
    if value is MISSING:
        raise ValidationError({"weights": ["This field is required."]})
    if not isinstance(value, dict):
        raise ValidationError({"weights": ["Expected an object of variant name to percent."]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(value) - set(variants))
    if unknown:
        errors["weights"] = [f"No such variant: {', '.join(unknown)}."]
    missing = [v for v in variants if v not in value]
    if missing:
        errors["weights"] = [
            *errors.get("weights", []),
            f"Give a weight for every variant (missing: {', '.join(missing)}).",
        ]
    for name, weight in value.items():
        if not _is_int(weight) or not 0 <= weight <= 100:
            errors[f"weights.{name}"] = ["A whole percentage from 0 to 100 is required."]
    if not errors and sum(value.values()) != 100:
        errors["weights"] = [f"The weights must sum to 100 (they sum to {sum(value.values())})."]
    if errors:
        raise ValidationError(errors)
    return {name: value[name] for name in variants}


def validate_guardrails(value: object, errors: dict) -> list[dict]:
    if value is MISSING or value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(g, dict) for g in value):
        errors["guardrails"] = ["Expected a list of objects."]
        return []
    cleaned = []
    for i, raw in enumerate(value):
        where = f"guardrails[{i}]"
        unknown = set(raw) - {"metric", "max_increase", "action"}
        if unknown:
            errors[where] = [f"Unknown fields: {', '.join(sorted(unknown))}."]
        metric = raw.get("metric")
        if metric not in GUARDRAIL_METRICS:
            errors[f"{where}.metric"] = [f"Choose one of: {', '.join(GUARDRAIL_METRICS)}."]
        increase = raw.get("max_increase", 0)
        if not _is_number(increase) or increase < 0:
            errors[f"{where}.max_increase"] = [
                "A number at least 0 is required (the worsening allowed over control: a "
                "fraction for error_rate, seconds for latencies)."
            ]
        action = raw.get("action", "pause")
        if action not in GUARDRAIL_ACTIONS:
            errors[f"{where}.action"] = [f"Choose one of: {', '.join(GUARDRAIL_ACTIONS)}."]
        cleaned.append({"metric": metric, "max_increase": increase, "action": action})
    return cleaned


def _bounded_int(value: object, field: str, default: int, upper: int, errors: dict) -> int:
    if value is MISSING or value is None:
        return default
    if not _is_int(value) or not 0 <= value <= upper:
        errors[field] = [f"A whole number from 0 to {upper} is required."]
        return default
    return value


def validate_experiment(body: object, *, cluster, namespace: str) -> dict:
    """The experiment as it will be stored, or ValidationError naming every bad field."""
    if not isinstance(body, dict):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {}
    allowed = {
        "name",
        "hypothesis",
        "routing",
        "variants",
        "primary_metric",
        "guardrails",
        "min_samples",
        "min_duration",
    }
    unknown = sorted(set(body) - allowed)
    if unknown:
        errors["non_field_errors"] = [f"Unknown fields: {', '.join(unknown)}."]
    name = body.get("name", MISSING)
    if name is MISSING:
        errors["name"] = ["This field is required."]
    elif problem := dns1123_label_problem(name):
        # It names the Ingress or HTTPRoute and is a label value: a DNS label, 63 at most.
        errors["name"] = [f"{name!r}: {problem}"]
    hypothesis = body.get("hypothesis", "")
    if not isinstance(hypothesis, str):
        errors["hypothesis"] = ["Not a valid string."]
    elif len(hypothesis) > HYPOTHESIS_MAX:
        errors["hypothesis"] = [f"Ensure this field has no more than {HYPOTHESIS_MAX} characters."]
    routing = body.get("routing", MISSING)
    if routing not in ROUTINGS:
        errors["routing"] = [f"Choose one of: {', '.join(ROUTINGS)}."]
    metric = body.get("primary_metric", "conversion")
    if metric not in METRICS:
        errors["primary_metric"] = [f"Choose one of: {', '.join(METRICS)}."]
    variants = validate_variants(
        body.get("variants", MISSING), cluster=cluster, namespace=namespace, errors=errors
    )
    guardrails = validate_guardrails(body.get("guardrails", MISSING), errors)
    min_samples = _bounded_int(body.get("min_samples"), "min_samples", 100, MAX_SAMPLES, errors)
    min_duration = _bounded_int(body.get("min_duration"), "min_duration", 0, MAX_DURATION, errors)
    if errors:
        raise ValidationError(errors)
    return {
        "name": name,
        "hypothesis": hypothesis,
        "routing": routing,
        "variants": variants,
        "primary_metric": metric,
        "guardrails": guardrails,
        "min_samples": min_samples,
        "min_duration": min_duration,
    }


def validate_outcome(raw: object, *, variants: list[str], where: str = "") -> dict:
    """One outcome {"request_id", "variant", "converted" | "value"}, or ValidationError."""
    prefix = f"{where}." if where else ""
    if not isinstance(raw, dict):
        raise ValidationError({where or "non_field_errors": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {}
    request_id = raw.get("request_id")
    if not isinstance(request_id, str) or not request_id.strip() or len(request_id) > 200:
        errors[f"{prefix}request_id"] = ["A non-empty string of at most 200 characters."]
    variant = raw.get("variant")
    if variant not in variants:
        errors[f"{prefix}variant"] = [f"Choose one of: {', '.join(variants)}."]
    converted, value = raw.get("converted"), raw.get("value")
    if (converted is None) == (value is None):
        errors[f"{prefix}converted"] = ["Send exactly one of converted (true/false) or value."]
    elif converted is not None and not isinstance(converted, bool):
        errors[f"{prefix}converted"] = ["Must be true or false."]
    elif value is not None and not _is_number(value):
        errors[f"{prefix}value"] = ["A finite number is required."]
    if errors:
        raise ValidationError(errors)
    return {
        "request_id": request_id.strip(),
        "variant": variant,
        "converted": converted,
        "value": None if value is None else float(value),
    }


def feedback_limit() -> int:
    return settings.EXPERIMENTS_FEEDBACK_CSV_MAX_ROWS
