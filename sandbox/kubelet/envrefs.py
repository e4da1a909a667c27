"""The Secrets and ConfigMaps a pod needs before its containers can run.

Volumes come first: the kubelet mounts them before it pulls or creates anything, and a
missing Secret or ConfigMap volume source keeps the pod in ContainerCreating with FailedMount
events. Then, when it creates each container, it builds the environment (envFrom, then env
valueFrom); a missing object or key that is not marked optional fails that step with
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


def env_config_error(api: Any, pod: dict, container: dict) -> str | None:
    """Why the container's environment cannot be built now, or None when it can."""
    ns = pod["metadata"].get("namespace") or ""
    for source in container.get("envFrom") or []:
        for resource, (singular, _, ref_field, _) in _KINDS.items():
            ref = source.get(ref_field)
            if ref is None:
                continue
            name = ref.get("name", "")
            if api.get(resource, ns, name) is None and not ref.get("optional"):
                return f'{singular} "{name}" not found'
    for var in container.get("env") or []:
        value_from = var.get("valueFrom") or {}
        for resource, (singular, kind, _, key_field) in _KINDS.items():
            ref = value_from.get(key_field)
            if ref is None:
                continue
            name, key = ref.get("name", ""), ref.get("key", "")
            obj = api.get(resource, ns, name)
            if obj is None:
                if ref.get("optional"):
                    continue
                return f'{singular} "{name}" not found'
            # a Secret's stringData is folded into data on write; the kubelet reads only data
            if key not in (obj.get("data") or {}) and not ref.get("optional"):
                return f"couldn't find key {key} in {kind} {ns}/{name}"
    return None


def volume_mount_error(api: Any, pod: dict) -> str | None:
    """The FailedMount message for the first Secret/ConfigMap volume that cannot be set up."""
    ns = pod["metadata"].get("namespace") or ""
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if "secret" in volume:
            source, resource, singular = volume["secret"] or {}, "secrets", "secret"
            name = source.get("secretName", "")
        elif "configMap" in volume:
            source, resource, singular = volume["configMap"] or {}, "configmaps", "configmap"
            name = source.get("name", "")
        else:
            continue
        if api.get(resource, ns, name) is None and not source.get("optional"):
            return (
                f'MountVolume.SetUp failed for volume "{volume.get("name", "")}" : '
                f'{singular} "{name}" not found'
            )
    return None
