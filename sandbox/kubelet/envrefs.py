"""The Secrets and ConfigMaps a container's environment needs before it can be created.

The kubelet builds a container's environment (envFrom, then env valueFrom) when it creates the
container; a missing object or key that is not marked optional fails that step with
CreateContainerConfigError. The messages are the kubelet's: its secret and configmap managers
report NotFound with the singular resource name (`secret "x" not found`), and a missing key is
`couldn't find key K in Secret NS/NAME`.
"""

from __future__ import annotations

from typing import Any

_KINDS = {
    "secrets": ("secret", "Secret", "secretRef", "secretKeyRef"),
    "configmaps": ("configmap", "ConfigMap", "configMapRef", "configMapKeyRef"),
}


def env_config_error(store: Any, pod: dict, container: dict) -> str | None:
    """Why the container's environment cannot be built now, or None when it can."""
    ns = pod["metadata"].get("namespace") or ""
    for source in container.get("envFrom") or []:
        for resource, (singular, _, ref_field, _) in _KINDS.items():
            ref = source.get(ref_field)
            if ref is None:
                continue
            name = ref.get("name", "")
            if store.get(resource, ns, name) is None and not ref.get("optional"):
                return f'{singular} "{name}" not found'
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        for resource, (singular, kind, _, key_field) in _KINDS.items():
            ref = value_from.get(key_field)
            if ref is None:
                continue
            name, key = ref.get("name", ""), ref.get("key", "")
            obj = store.get(resource, ns, name)
            if obj is None:
                if ref.get("optional"):
                    continue
                return f'{singular} "{name}" not found'
            # a Secret's stringData is folded into data on write; the kubelet reads only data
            if key not in (obj.get("data") or {}) and not ref.get("optional"):
                return f"couldn't find key {key} in {kind} {ns}/{name}"
    return None
