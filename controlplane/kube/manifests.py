"""Manifests of what the control plane creates: pure functions from checked input to the
Deployment and Service dicts (the API's camelCase JSON shape).

Labels and selectors come from one place so a Deployment, its pods and its Service always
agree. Model metadata travels on the objects themselves, under one documented prefix
(`model.mlcp.io/`), so objects made here make sense in kubectl and objects made with kubectl
show up here.
"""

from __future__ import annotations

MODEL_PREFIX = "model.mlcp.io/"
MODEL_NAME_LABEL = f"{MODEL_PREFIX}name"
MODEL_VERSION_LABEL = f"{MODEL_PREFIX}version"
# The action that created the object: a create retried after a lost answer recognises its own.
ACTION_ANNOTATION = f"{MODEL_PREFIX}action"
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "mlcp"

GPU_RESOURCE = "nvidia.com/gpu"
# GKE labels GPU nodes with their accelerator type and taints them so only GPU pods land there.
GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
GPU_TOLERATION = {
    "key": GPU_RESOURCE,
    "operator": "Equal",
    "value": "present",
    "effect": "NoSchedule",
}
CONTAINER_NAME = "model"


def workload_selector(name: str) -> dict[str, str]:
    """The labels that tie a Deployment's pods to it and to its Service."""
    return {NAME_LABEL: name}


def workload_labels(*, name: str, model_name: str = "", model_version: str = "") -> dict:
    labels = {**workload_selector(name), MANAGED_BY_LABEL: MANAGED_BY}
    if model_name:
        labels[MODEL_NAME_LABEL] = model_name
    if model_version:
        labels[MODEL_VERSION_LABEL] = model_version
    return labels


def _probe(probe: dict | None, *, container_port: int) -> dict | None:
    if not probe:
        return None
    return {
        "httpGet": {"path": probe.get("path") or "/", "port": probe.get("port") or container_port},
        "initialDelaySeconds": probe.get("initial_delay_seconds", 0),
        "periodSeconds": probe.get("period_seconds", 10),
        "timeoutSeconds": probe.get("timeout_seconds", 1),
        "failureThreshold": probe.get("failure_threshold", 3),
    }


def _resources(resources: dict | None) -> dict:
    out = {}
    for part in ("requests", "limits"):
        values = (resources or {}).get(part) or {}
        if values:
            out[part] = {key: str(value) for key, value in values.items()}
    return out


def wants_gpu(resources: dict | None) -> bool:
    limits = (resources or {}).get("limits") or {}
    requests = (resources or {}).get("requests") or {}
    return GPU_RESOURCE in limits or GPU_RESOURCE in requests


def deployment_manifest(
    *,
    name: str,
    namespace: str,
    image: str,
    replicas: int,
    container_port: int,
    model_name: str = "",
    model_version: str = "",
    env: dict[str, str] | None = None,
    resources: dict | None = None,
    accelerator: str = "",
    readiness_probe: dict | None = None,
    liveness_probe: dict | None = None,
    action_id: str = "",
) -> dict:
    """A Deployment of one serving container; a GPU request adds GKE's selector and toleration."""
    labels = workload_labels(name=name, model_name=model_name, model_version=model_version)
    container: dict = {
        "name": CONTAINER_NAME,
        "image": image,
        "ports": [{"name": "http", "containerPort": container_port, "protocol": "TCP"}],
    }
    if env:
        container["env"] = [{"name": key, "value": value} for key, value in env.items()]
    if resources_body := _resources(resources):
        container["resources"] = resources_body
    for field, probe in (("readinessProbe", readiness_probe), ("livenessProbe", liveness_probe)):
        if body := _probe(probe, container_port=container_port):
            container[field] = body
    pod_spec: dict = {"containers": [container]}
    if wants_gpu(resources):
        pod_spec["tolerations"] = [dict(GPU_TOLERATION)]
        if accelerator:
            pod_spec["nodeSelector"] = {GKE_ACCELERATOR_LABEL: accelerator}
    annotations = {ACTION_ANNOTATION: action_id} if action_id else {}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": workload_selector(name)},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def service_manifest(
    *,
    name: str,
    namespace: str,
    service_type: str,
    port: int,
    container_port: int,
    model_name: str = "",
    model_version: str = "",
    action_id: str = "",
) -> dict:
    """The Service in front of `deployment_manifest(name=...)`'s pods, selecting exactly them."""
    annotations = {ACTION_ANNOTATION: action_id} if action_id else {}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": workload_labels(
                name=name, model_name=model_name, model_version=model_version
            ),
            "annotations": annotations,
        },
        "spec": {
            "type": service_type,
            "selector": workload_selector(name),
            "ports": [
                {"name": "http", "port": port, "targetPort": container_port, "protocol": "TCP"}
            ],
        },
    }


def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """Whether a Service-style (equality) selector selects an object with `labels`."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(key) == value for key, value in selector.items())


def model_manifests(*, namespace: str, spec: dict, action_id: str = "") -> tuple[dict, dict | None]:
    """The Deployment and the Service (or None) a checked deploy request describes
    (keys as the deploy API takes them: name, image, replicas, container_port, ...)."""
    deployment = deployment_manifest(
        name=spec["name"],
        namespace=namespace,
        image=spec["image"],
        replicas=spec["replicas"],
        container_port=spec["container_port"],
        model_name=spec.get("model_name", ""),
        model_version=spec.get("model_version", ""),
        env=spec.get("env"),
        resources=spec.get("resources"),
        accelerator=spec.get("accelerator", ""),
        readiness_probe=spec.get("readiness_probe"),
        liveness_probe=spec.get("liveness_probe"),
        action_id=action_id,
    )
    service = None
    if spec.get("service"):
        service = service_manifest(
            name=spec["name"],
            namespace=namespace,
            service_type=spec["service"]["type"],
            port=spec["service"]["port"],
            container_port=spec["container_port"],
            model_name=spec.get("model_name", ""),
            model_version=spec.get("model_version", ""),
            action_id=action_id,
        )
    return deployment, service
