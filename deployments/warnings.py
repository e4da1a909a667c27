"""Warnings that catch real mistakes before they bite (selectors: reads, no side effects).

- a Service whose selector matches no pods (traffic goes nowhere);
- an image tagged `latest`, or untagged (which means latest): a restart may run other code;
- resource requests no node of the cluster can satisfy (pods stay Pending);
- a GPU request in a cluster without GPU nodes.

They read the watcher's cache where it is trusted; otherwise the preview and the warnings
endpoint list live, and the answer to a submitted deploy (no cluster I/O in a request) says
only what needs no cluster at all.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import user_can
from controlplane.kube.errors import NotFound
from controlplane.kube.manifests import GPU_RESOURCE, selector_matches
from controlplane.kube.quantities import parse_quantity
from controlplane.live.cache import cached_objects
from controlplane.live.snapshot import snapshot_get

from .deploy_serializers import image_tag

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster


def image_warnings(images: list[str]) -> list[str]:
    found = []
    for image in images:
        tag, pinned = image_tag(image)
        if pinned:
            continue
        if tag is None:
            found.append(
                f"image {image} has no tag, so it means :latest: each restart may pull different "
                "code; pin a version tag or a digest"
            )
        elif tag == "latest":
            found.append(
                f"image {image} is tagged latest: each restart may pull different code; pin a "
                "version tag or a digest"
            )
    return found


def _quantity(value) -> Decimal | None:
    try:
        return parse_quantity(value)
    except ValueError:
        return None


def effective_requests(resources: dict | None) -> dict[str, Decimal]:
    """What the scheduler will reserve: requests, or the limit where no request is set."""
    resources = resources or {}
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    out = {}
    for key, value in merged.items():
        amount = _quantity(value)
        if amount is not None and amount > 0:
            out[key] = amount
    return out


def _allocatable(node: dict) -> dict:
    return (node.get("status") or {}).get("allocatable") or {}


def node_warnings(resources: dict | None, nodes: list[dict]) -> list[str]:
    wanted = effective_requests(resources)
    if not wanted or not nodes:
        return []
    gpus = wanted.get(GPU_RESOURCE)
    if gpus:
        gpu_nodes = [n for n in nodes if (_quantity(_allocatable(n).get(GPU_RESOURCE, 0)) or 0) > 0]
        if not gpu_nodes:
            return [
                f"{GPU_RESOURCE} is requested but the cluster has no GPU node: pods will stay "
                "Pending until a GPU node pool is added"
            ]

    def fits(node: dict) -> bool:
        allocatable = _allocatable(node)
        return all(
            (_quantity(allocatable.get(key, 0)) or 0) >= amount for key, amount in wanted.items()
        )

    if any(fits(node) for node in nodes):
        return []
    asked = ", ".join(f"{key}={value}" for key, value in sorted(wanted.items()))
    return [
        f"no node can satisfy the requests ({asked}): the largest nodes offer "
        + "; ".join(
            sorted(
                {
                    ", ".join(f"{k}={_allocatable(n).get(k, 0)}" for k in sorted(wanted))
                    for n in nodes
                }
            )[:3]
        )
        + "; pods will stay Pending"
    ]


def service_warnings(*, services: list[dict], pods: list[dict]) -> list[str]:
    """Services (with a selector) that select no pod of the namespace."""
    found = []
    for service in services:
        spec = service.get("spec") or {}
        selector = spec.get("selector")
        if not selector:
            continue  # no selector: endpoints are managed by hand, on purpose
        labels = [(p.get("metadata") or {}).get("labels") for p in pods]
        if not any(selector_matches(selector, pod_labels) for pod_labels in labels):
            name = (service.get("metadata") or {}).get("name", "")
            wanted = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
            found.append(
                f"Service {name} selects no pods ({wanted} matches none in the namespace): "
                "its traffic goes nowhere"
            )
    return found


def _objects(*, cluster: Cluster, kind: str, namespace: str | None, live: bool):
    """(objects or None, source): the trusted cache, else a live list when allowed."""
    if live:
        snapshot = snapshot_get(cluster=cluster, kind=kind, namespace=namespace)
        return (snapshot.objects if snapshot.ok else None), snapshot.source
    try:
        cached = cached_objects(cluster_name=cluster.name, kind=kind, namespace=namespace)
    except Exception:  # a cache outage only costs the warnings that need it
        cached = None
    return cached, "cache" if cached is not None else "unavailable"


def deploy_warnings(
    *, cluster: Cluster, namespace: str, spec: dict, live: bool
) -> tuple[list[str], str]:
    """Warnings about a checked deploy request, and where the cluster's side came from."""
    warnings = image_warnings([spec["image"]])
    nodes, source = _objects(cluster=cluster, kind="nodes", namespace=None, live=live)
    if nodes is not None:
        warnings += node_warnings(spec.get("resources"), nodes)
    return warnings, source


def _related(service: dict, *, name: str, pod_labels: dict) -> bool:
    """A Service meant for this deployment: same name, or selecting on keys its pods carry."""
    selector = (service.get("spec") or {}).get("selector") or {}
    if (service.get("metadata") or {}).get("name") == name:
        return True
    return bool(selector) and set(selector) <= set(pod_labels)


def deployment_warnings(*, user: User, cluster: Cluster, namespace: str, name: str) -> dict:
    """Warnings about an existing deployment and the Services meant for it."""
    if not user_can(user=user, permission="view", cluster=cluster, namespace=namespace):
        raise PermissionDenied(f"You may not view namespace {namespace} on cluster {cluster.name}.")
    deployments, source = _objects(
        cluster=cluster, kind="deployments", namespace=namespace, live=True
    )
    deployment = next(
        (d for d in deployments or [] if (d.get("metadata") or {}).get("name") == name), None
    )
    if deployment is None:
        raise NotFound(f'deployments.apps "{name}" not found in namespace {namespace}')
    template = (deployment.get("spec") or {}).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    pod_labels = (template.get("metadata") or {}).get("labels") or {}
    warnings = image_warnings([c.get("image", "") for c in containers])
    nodes, _ = _objects(cluster=cluster, kind="nodes", namespace=None, live=True)
    for container in containers:
        warnings += node_warnings(container.get("resources"), nodes or [])
    services, _ = _objects(cluster=cluster, kind="services", namespace=namespace, live=True)
    pods, _ = _objects(cluster=cluster, kind="pods", namespace=namespace, live=True)
    if services is not None and pods is not None:
        mine = [s for s in services if _related(s, name=name, pod_labels=pod_labels)]
        warnings += service_warnings(services=mine, pods=pods)
    return {"warnings": warnings, "source": source}
