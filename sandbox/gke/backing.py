"""The sandbox cluster behind each GKE cluster, and its nodes as GKE's node pools make them.

Each runs in-process on the endpoint's event loop, accepts the OAuth access tokens the
endpoint issues (as a GKE control plane accepts Google tokens) besides its own admin token,
and has exactly the nodes its pools ask for: GPU pools' nodes carry GKE's accelerator label
and `nvidia.com/gpu=present:NoSchedule` taint and advertise `nvidia.com/gpu`.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from sandbox.apiserver.server import User
from sandbox.cluster import ADMIN_USER, Cluster, ClusterOptions
from sandbox.controllers.nodes import GPU_LABEL, GPU_RESOURCE, GPU_TAINT, build_node

from .auth import TokenService

log = logging.getLogger(__name__)

GOOGLE_USER = "google-oauth-user"


class BackingCluster(Cluster):
    def __init__(self, options: ClusterOptions, config, tokens: TokenService) -> None:
        super().__init__(options, config)
        self.tokens = tokens

    def user_for_token(self, token: str | None) -> User | None:
        user = super().user_for_token(token)
        if user is not None:
            return user
        if self.tokens.access_token_valid(token):
            # GKE maps a Google identity with the container.admin role to cluster-admin.
            return User(GOOGLE_USER, readonly=False)
        return None


def node_name(cluster: str, pool: str, zone: str, index: int) -> str:
    digest = hashlib.sha256(f"{cluster}/{pool}/{zone}".encode()).hexdigest()[:8]
    return f"gke-{cluster[:20]}-{pool[:20]}-{digest}-{index:04d}"


def gke_node(*, cluster: str, pool: dict, zone: str, index: int, cidr_index: int) -> dict:
    """A Node of `pool` as GKE registers it: the pool's machine type, zone and accelerators."""
    config = pool.get("config", {})
    accelerators = config.get("accelerators") or []
    node = build_node("gpu-pool" if accelerators else "default-pool", index, cidr_index)
    name = node_name(cluster, pool["name"], zone, index)
    meta = node["metadata"]
    meta["name"] = name
    machine = config.get("machineType", "e2-medium")
    labels = meta["labels"]
    for key in ("beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type"):
        labels[key] = machine
    labels["cloud.google.com/machine-family"] = machine.split("-")[0]
    labels["cloud.google.com/gke-nodepool"] = pool["name"]
    labels["kubernetes.io/hostname"] = name
    for key in ("failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/zone"):
        labels[key] = zone
    region = zone.rsplit("-", 1)[0]
    for key in ("failure-domain.beta.kubernetes.io/region", "topology.kubernetes.io/region"):
        labels[key] = region
    labels.update(config.get("labels") or {})
    status = node["status"]
    cpus, memory_gib = pool["_shape"]
    status["capacity"]["cpu"] = str(cpus)
    status["capacity"]["memory"] = f"{memory_gib * 1024 * 1024}Ki"
    status["allocatable"]["cpu"] = f"{cpus * 1000 - 90}m"
    status["allocatable"]["memory"] = f"{int(memory_gib * 1024 * 1024 * 0.88)}Ki"
    spec = node["spec"]
    spec["providerID"] = f"gce://{pool['_project']}/{zone}/{name}"
    taints = [
        {"key": t["key"], "value": t.get("value", ""), "effect": t["effect"]}
        for t in config.get("taints") or []
    ]
    if accelerators:
        accel = accelerators[0]
        count = int(accel.get("acceleratorCount", 1))
        labels[GPU_LABEL] = accel["acceleratorType"]
        labels["cloud.google.com/gke-accelerator-count"] = str(count)
        driver = (accel.get("gpuDriverInstallationConfig") or {}).get("gpuDriverVersion")
        if driver in ("DEFAULT", "LATEST"):
            labels["cloud.google.com/gke-gpu-driver-version"] = driver.lower()
        else:
            labels.pop("cloud.google.com/gke-gpu-driver-version", None)
        status["capacity"][GPU_RESOURCE] = str(count)
        status["allocatable"][GPU_RESOURCE] = str(count)
        taints.append(dict(GPU_TAINT))
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)
    return node


def plan_nodes(
    backing: Cluster, *, cluster: str, pools: list[dict]
) -> tuple[list[str], list[dict]]:
    """(names of nodes to remove, nodes to add) for the backing cluster's nodes to be exactly
    those its pools ask for."""
    wanted = _wanted(cluster, pools)
    existing = {n["metadata"]["name"] for n in backing.api.list("nodes")}
    return sorted(existing - set(wanted)), [n for name, n in wanted.items() if name not in existing]


def apply_node_change(backing: Cluster, change: str | dict) -> None:
    """Remove the node named `change`, or add the node `change` is."""
    if isinstance(change, str):
        backing.api.delete("nodes", "", change)
    else:
        backing.api.create("nodes", change)


def sync_nodes(backing: Cluster, *, cluster: str, pools: list[dict]) -> int:
    """Make the backing cluster's nodes exactly those its pools ask for, at once."""
    remove, add = plan_nodes(backing, cluster=cluster, pools=pools)
    for change in [*remove, *add]:
        apply_node_change(backing, change)
    return len(_wanted(cluster, pools))


def _wanted(cluster: str, pools: list[dict]) -> dict[str, dict]:
    wanted: dict[str, dict] = {}
    cidr_index = 0
    for pool in pools:
        for zone in pool["locations"]:
            for index in range(int(pool["_per_zone"])):
                node = gke_node(
                    cluster=cluster, pool=pool, zone=zone, index=index, cidr_index=cidr_index
                )
                wanted[node["metadata"]["name"]] = node
                cidr_index += 1
    return wanted


async def start_backing(
    *, tokens: TokenService, config, state: Path | None, port: int = 0
) -> BackingCluster:
    options = ClusterOptions(nodes=0, gpu_nodes=0, state=state, port=port)
    backing = BackingCluster(options, config, tokens)
    await backing.start()
    log.info("backing cluster serving on %s (%s)", backing.url, ADMIN_USER)
    return backing
