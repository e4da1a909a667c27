"""Validation like the real API server on every write: a 422 Invalid listing one cause per bad
field. This module holds the entry points and the Service, HPA, Ingress, Secret, ConfigMap and
Event rules; workloads are in validation_workloads.py, HTTPRoutes in validation_gateway.py,
shared field rules in fields.py, and type/unknown-field decoding at the HTTP edge in
decoding.py."""

from __future__ import annotations

from typing import Any

from sandbox.machinery.errors import (
    ApiError,
    duplicate,
    forbidden_field,
    invalid_value,
    required,
    unsupported,
)
from sandbox.machinery.resources import ResourceType
from sandbox.registry.fields import CONFIG_KEY, Causes, port_range, validate_labels, validate_meta
from sandbox.registry.validation_gateway import httproute
from sandbox.registry.validation_workloads import deployment, job, pod, replicaset

__all__ = ["validate", "validate_status"]

_SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def _service(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    stype = spec.get("type", "ClusterIP")
    if stype not in _SERVICE_TYPES:
        c.add(unsupported("spec.type", stype, _SERVICE_TYPES))
    ports = spec.get("ports") or []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        c.add(required("spec.ports"))
    names: set[str] = set()
    seen: set[tuple] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        pname = port.get("name")
        if len(ports) > 1 and not pname:
            c.add(required(f"{path}.name"))
        if pname:
            if pname in names:
                c.add(duplicate(f"{path}.name", pname))
            names.add(pname)
        port_range(port.get("port"), f"{path}.port", c)
        proto = port.get("protocol", "TCP")
        if proto not in ("TCP", "UDP", "SCTP"):
            c.add(unsupported(f"{path}.protocol", proto, ["SCTP", "TCP", "UDP"]))
        key = (port.get("port"), proto)
        if key in seen:
            c.add(duplicate(f"{path}", f"{port.get('port')}/{proto}"))
        seen.add(key)
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            c.add(
                invalid_value(
                    f"{path}.targetPort", target, "must be between 1 and 65535, inclusive"
                )
            )
        node_port = port.get("nodePort")
        if node_port is not None and stype == "ClusterIP":
            c.add(forbidden_field(f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'"))
    validate_labels(spec.get("selector"), "spec.selector", c)
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in ("None", "ClientIP"):
        c.add(unsupported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and spec.get("clusterIP") not in (None, old_ip) and stype != "ExternalName":
            c.add(
                invalid_value(
                    "spec.clusterIPs[0]", spec.get("clusterIP"), "may not change once set"
                )
            )


_METRIC_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]


def _target(target: Any, path: str, c: Causes) -> None:
    if not isinstance(target, dict):
        c.add(required(path, "must specify a metric target"))
        return
    ttype = target.get("type")
    if ttype not in ("Utilization", "Value", "AverageValue"):
        c.add(unsupported(f"{path}.type", ttype, ["AverageValue", "Utilization", "Value"]))
        return
    field = {"Utilization": "averageUtilization", "Value": "value", "AverageValue": "averageValue"}[
        ttype
    ]
    if target.get(field) is None:
        c.add(required(f"{path}.{field}", f"must set {field} when type is {ttype}"))
    elif field == "averageUtilization" and target[field] < 1:
        c.add(invalid_value(f"{path}.averageUtilization", target[field], "must be greater than 0"))


def _hpa(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    ref = spec.get("scaleTargetRef") or {}
    if not ref.get("kind"):
        c.add(required("spec.scaleTargetRef.kind"))
    if not ref.get("name"):
        c.add(required("spec.scaleTargetRef.name"))
    min_r = spec.get("minReplicas", 1)
    max_r = spec.get("maxReplicas")
    if isinstance(min_r, int) and min_r < 1:
        c.add(invalid_value("spec.minReplicas", min_r, "must be greater than or equal to 1"))
    if max_r is None:
        c.add(required("spec.maxReplicas"))
    elif isinstance(max_r, int):
        if max_r < 1:
            c.add(invalid_value("spec.maxReplicas", max_r, "must be greater than 0"))
        elif isinstance(min_r, int) and max_r < min_r:
            c.add(
                invalid_value(
                    "spec.maxReplicas", max_r, "must be greater than or equal to `minReplicas`"
                )
            )
    for i, metric in enumerate(spec.get("metrics") or []):
        path = f"spec.metrics[{i}]"
        mtype = metric.get("type")
        if mtype not in _METRIC_TYPES:
            c.add(unsupported(f"{path}.type", mtype, _METRIC_TYPES))
            continue
        field = {
            "Resource": "resource",
            "Pods": "pods",
            "Object": "object",
            "External": "external",
            "ContainerResource": "containerResource",
        }[mtype]
        source = metric.get(field)
        if not isinstance(source, dict):
            c.add(
                required(
                    f"{path}.{field}",
                    f"must populate information for the given metric source (type {mtype})",
                )
            )
            continue
        if mtype in ("Resource", "ContainerResource") and not source.get("name"):
            c.add(required(f"{path}.{field}.name", "must specify a resource name"))
        if mtype in ("Pods", "Object", "External") and not (source.get("metric") or {}).get("name"):
            c.add(required(f"{path}.{field}.metric.name", "must specify a metric name"))
        if mtype == "Object" and not (source.get("describedObject") or {}).get("name"):
            c.add(required(f"{path}.object.describedObject.name"))
        _target(source.get("target"), f"{path}.{field}.target", c)


_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def _backend(backend: Any, path: str, c: Causes) -> None:
    if not isinstance(backend, dict):
        c.add(required(path))
        return
    svc = backend.get("service")
    if svc is None and backend.get("resource") is None:
        c.add(invalid_value(path, "", "one backend (`service` or `resource`) must be specified"))
        return
    if isinstance(svc, dict):
        if not svc.get("name"):
            c.add(required(f"{path}.service.name"))
        port = svc.get("port") or {}
        if "number" not in port and "name" not in port:
            c.add(required(f"{path}.service.port", "port name or number is required"))


def _ingress(obj: dict, old: dict | None, c: Causes) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        c.add(required("spec"))
        return
    if spec.get("defaultBackend") is not None:
        _backend(spec["defaultBackend"], "spec.defaultBackend", c)
    rules = spec.get("rules") or []
    if not rules and spec.get("defaultBackend") is None:
        c.add(invalid_value("spec", "", "either `defaultBackend` or `rules` must be specified"))
    for i, rule in enumerate(rules):
        http = rule.get("http")
        if http is None:
            continue
        for j, p in enumerate(http.get("paths") or []):
            path = f"spec.rules[{i}].http.paths[{j}]"
            ptype = p.get("pathType")
            if ptype is None:
                c.add(required(f"{path}.pathType", "pathType must be specified"))
            elif ptype not in _PATH_TYPES:
                c.add(unsupported(f"{path}.pathType", ptype, _PATH_TYPES))
            value = p.get("path")
            if ptype in ("Exact", "Prefix") and not (value or "").startswith("/"):
                c.add(invalid_value(f"{path}.path", value, "must be an absolute path"))
            _backend(p.get("backend"), f"{path}.backend", c)


def _data_keys(obj: dict, c: Causes) -> None:
    for field in ("data", "binaryData"):
        for key in obj.get(field) or {}:
            if not CONFIG_KEY.match(key) or len(key) > 253:
                c.add(
                    invalid_value(
                        f"{field}[{key}]",
                        key,
                        "a valid config key must consist of "
                        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                        "or 'KEY_NAME',  or 'key-name', regex used for validation is "
                        "'[-._a-zA-Z0-9]+')",
                    )
                )


def _secret(obj: dict, old: dict | None, c: Causes) -> None:
    import base64
    import binascii

    _data_keys(obj, c)
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError, TypeError):
            c.add(
                invalid_value(f"data[{key}]", "<secret contents redacted>", "illegal base64 data")
            )
    if old is not None and obj.get("type") != old.get("type"):
        c.add(invalid_value("type", obj.get("type"), "field is immutable"))


def _configmap(obj: dict, old: dict | None, c: Causes) -> None:
    _data_keys(obj, c)


def _event(obj: dict, old: dict | None, c: Causes) -> None:
    involved = obj.get("involvedObject") or {}
    meta_ns = (obj.get("metadata") or {}).get("namespace")
    if involved.get("namespace") and involved["namespace"] != meta_ns:
        c.add(
            invalid_value(
                "involvedObject.namespace", involved["namespace"], "does not match event.namespace"
            )
        )


_VALIDATORS = {
    "deployments.apps": deployment,
    "replicasets.apps": replicaset,
    "jobs.batch": job,
    "pods": pod,
    "services": _service,
    "horizontalpodautoscalers.autoscaling": _hpa,
    "ingresses.networking.k8s.io": _ingress,
    "httproutes.gateway.networking.k8s.io": httproute,
    "secrets": _secret,
    "configmaps": _configmap,
    "events": _event,
}


def validate(rt: ResourceType, obj: dict, old: dict | None) -> None:
    """Raise 422 Invalid listing every bad field, as the real server does."""
    c = Causes()
    validate_meta(rt, obj, c)
    fn = _VALIDATORS.get(rt.key)
    if fn is not None:
        fn(obj, old, c)
    if c:
        name = (obj.get("metadata") or {}).get("name", "")
        raise ApiError.invalid(rt.kind, name, list(c), rt.group)


def validate_status(rt: ResourceType, obj: dict) -> None:
    status = obj.get("status")
    if status is not None and not isinstance(status, dict):
        raise ApiError.invalid(
            rt.kind,
            obj["metadata"]["name"],
            [invalid_value("status", status, "must be an object")],
            rt.group,
        )
    if isinstance(status, dict):
        c = Causes()
        for field in ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas"):
            value = status.get(field)
            if value is not None and (not isinstance(value, int) or value < 0):
                c.add(invalid_value(f"status.{field}", value, "must be greater than or equal to 0"))
        if c:
            raise ApiError.invalid(rt.kind, obj["metadata"]["name"], list(c), rt.group)
