"""A process container's environment, built as the kubelet builds a container's: envFrom
first, then env in order (values, ConfigMap and Secret keys, the downward API), with `$(VAR)`
references expanded in values, command and args (`$$` escapes a dollar)."""

from __future__ import annotations

import base64
import math
import os
import re
from typing import Any

from sandbox.machinery.quantity import parse_quantity

_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_KEYED = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: unknown references stay as written."""

    def sub(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REF.sub(sub, value)


def container_env(api: Any, pod: dict, container: dict) -> dict[str, str]:
    """The variables the container's spec asks for (missing optional sources are skipped;
    the kubelet checks required ones before it starts the container)."""
    ns = pod["metadata"].get("namespace") or ""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        if source.get("configMapRef") is not None:
            obj = api.get("configmaps", ns, source["configMapRef"].get("name", ""))
            for key, value in ((obj or {}).get("data") or {}).items():
                env[prefix + key] = value
        elif source.get("secretRef") is not None:
            obj = api.get("secrets", ns, source["secretRef"].get("name", ""))
            for key, value in ((obj or {}).get("data") or {}).items():
                env[prefix + key] = _decode(value)
    for var in container.get("env") or []:
        name = var.get("name", "")
        if "valueFrom" not in var:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        value = _value_from(api, pod, container, var["valueFrom"] or {})
        if value is not None:
            env[name] = value
    return env


def _value_from(api: Any, pod: dict, container: dict, source: dict) -> str | None:
    ns = pod["metadata"].get("namespace") or ""
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"] or {}
        obj = api.get("configmaps", ns, ref.get("name", ""))
        return ((obj or {}).get("data") or {}).get(ref.get("key", ""))
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"] or {}
        obj = api.get("secrets", ns, ref.get("name", ""))
        value = ((obj or {}).get("data") or {}).get(ref.get("key", ""))
        return None if value is None else _decode(value)
    if "fieldRef" in source:
        return field_value(pod, (source["fieldRef"] or {}).get("fieldPath", ""))
    if "resourceFieldRef" in source:
        return _resource_value(container, source["resourceFieldRef"] or {})
    return None


def field_value(pod: dict, path: str) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    keyed = _KEYED.match(path)
    if keyed:
        return str((meta.get(keyed.group(1)) or {}).get(keyed.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.hostIPs": ",".join(a.get("ip", "") for a in status.get("hostIPs") or []),
        "status.podIPs": ",".join(a.get("ip", "") for a in status.get("podIPs") or []),
    }
    if path == "metadata.labels" or path == "metadata.annotations":
        items = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    return str(simple.get(path) or "")


def _resource_value(container: dict, ref: dict) -> str:
    kind, _, resource = (ref.get("resource") or "").partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(resource)
    if value is None:
        # Unset limits read as the node's allocatable, here this machine's.
        if resource == "cpu":
            value = str(os.cpu_count() or 1)
        elif resource == "memory":
            value = str(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        else:
            return "0"
    divisor = parse_quantity(ref.get("divisor") or "1")
    if divisor <= 0:
        divisor = parse_quantity("1")
    return str(math.ceil(parse_quantity(value) / divisor))


def _decode(value: str) -> str:
    return base64.b64decode(value).decode("utf-8", errors="replace")
