"""Field schemas read from the official client's model classes.

Each model class lists its fields (openapi_types: attribute -> type string such as
'List[V1Container]' or 'Dict[str, str]') and their JSON names (attribute_map). That is the
same information as the Go structs behind the real API, and it drives unknown-field
detection, type checks, strategic-merge keys and the OpenAPI documents.
"""

from __future__ import annotations

import re
from functools import cache

from kubernetes.client import models as _models

_LIST = re.compile(r"^List\[(.+)\]$")
_DICT = re.compile(r"^Dict\[str, (.+)\]$")
PRIMITIVES = {"str", "int", "float", "bool", "datetime", "date", "object", "bytes"}


@cache
def fields(model: str) -> dict[str, str] | None:
    """JSON field name -> type string for a model class name, or None if unknown."""
    cls = getattr(_models, model, None)
    if cls is None or not hasattr(cls, "openapi_types"):
        return None
    return {cls.attribute_map[attr]: typ for attr, typ in cls.openapi_types.items()}


def parse(typ: str) -> tuple[str, str]:
    """('list', inner) | ('dict', inner) | ('model', name) | ('prim', name)."""
    m = _LIST.match(typ)
    if m:
        return "list", m.group(1)
    m = _DICT.match(typ)
    if m:
        return "dict", m.group(1)
    if typ in PRIMITIVES:
        return "prim", typ
    return "model", typ


def go_type_name(model: str) -> str:
    """'V1DeploymentSpec' -> 'DeploymentSpec' (the Go struct name in error messages)."""
    m = re.match(
        r"^(?:Core|Apps|Batch|Networking|Autoscaling|Policy|Authorization)?V\d+(?:(?:alpha|beta)\d+)?(.+)$",
        model,
    )
    return m.group(1) if m else model


# Strategic merge patch keys: (model, field) -> merge key. "" means a list of primitives that
# merges as a set (patchStrategy merge without a key).
MERGE_KEYS: dict[tuple[str, str], str] = {
    ("V1PodSpec", "containers"): "name",
    ("V1PodSpec", "initContainers"): "name",
    ("V1PodSpec", "ephemeralContainers"): "name",
    ("V1PodSpec", "volumes"): "name",
    ("V1PodSpec", "imagePullSecrets"): "name",
    ("V1PodSpec", "hostAliases"): "ip",
    ("V1PodSpec", "tolerations"): "key",
    ("V1PodSpec", "topologySpreadConstraints"): "topologyKey",
    ("V1PodSpec", "resourceClaims"): "name",
    ("V1PodSpec", "schedulingGates"): "name",
    ("V1Container", "ports"): "containerPort",
    ("V1Container", "env"): "name",
    ("V1Container", "volumeMounts"): "mountPath",
    ("V1Container", "volumeDevices"): "devicePath",
    ("V1EphemeralContainer", "env"): "name",
    ("V1EphemeralContainer", "volumeMounts"): "mountPath",
    ("V1ServiceSpec", "ports"): "port",
    ("V1ObjectMeta", "ownerReferences"): "uid",
    ("V1ObjectMeta", "finalizers"): "",
    ("V1DeploymentStatus", "conditions"): "type",
    ("V1ReplicaSetStatus", "conditions"): "type",
    ("V1PodStatus", "conditions"): "type",
    ("V1NodeStatus", "conditions"): "type",
    ("V1NodeStatus", "addresses"): "type",
    ("V1JobStatus", "conditions"): "type",
    ("V1NamespaceStatus", "conditions"): "type",
    ("V1ServiceStatus", "conditions"): "type",
    ("V2HorizontalPodAutoscalerStatus", "conditions"): "type",
}

# maps whose keys are cleared when absent from the patch ($retainKeys), e.g. strategy
RETAIN_KEYS: set[tuple[str, str]] = {
    ("V1DeploymentSpec", "strategy"),
    ("V1PodSpec", "volumes"),
}
