"""Node objects that look like a GKE cluster's, and the kubelet's periodic status heartbeat.

Regular nodes form "default-pool" (e2-standard-8); GPU nodes form "gpu-pool" (n1-standard-8
with NVIDIA T4s), labelled, tainted and sized the way GKE sets them up, so manifests written
for GKE (nodeSelector on cloud.google.com/gke-accelerator, the nvidia.com/gpu toleration)
schedule here the same way.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sandbox.machinery.util import rfc3339

log = logging.getLogger(__name__)

REGION = "us-central1"
ZONES = ("us-central1-a", "us-central1-b", "us-central1-c")
KUBELET_VERSION = "v1.31.6-gke.1020000"
GPU_LABEL = "cloud.google.com/gke-accelerator"
GPU_TYPE = "nvidia-tesla-t4"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT = {"key": GPU_RESOURCE, "value": "present", "effect": "NoSchedule"}

_POOLS = {
    # pool: (machine type, cpu, memory Ki, allocatable cpu, allocatable memory Ki, gpus)
    "default-pool": ("e2-standard-8", "8", 32_880_616, "7910m", 29_094_376, 0),
    "gpu-pool": ("n1-standard-8", "8", 30_817_616, "7910m", 27_031_376, 1),
}


def node_name(pool: str, index: int) -> str:
    return f"gke-sandbox-{pool}-{_short_hash(pool)}-{index:04d}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def build_node(pool: str, index: int, cidr_index: int) -> dict:
    machine, cpu, mem_ki, alloc_cpu, alloc_mem_ki, gpus = _POOLS[pool]
    name = node_name(pool, index)
    zone = ZONES[index % len(ZONES)]
    internal_ip = f"10.128.{cidr_index // 250}.{cidr_index % 250 + 2}"
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": machine,
        "beta.kubernetes.io/os": "linux",
        "cloud.google.com/gke-boot-disk": "pd-balanced",
        "cloud.google.com/gke-container-runtime": "containerd",
        "cloud.google.com/gke-nodepool": pool,
        "cloud.google.com/gke-os-distribution": "cos",
        "cloud.google.com/machine-family": machine.split("-")[0],
        "failure-domain.beta.kubernetes.io/region": REGION,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": machine,
        "topology.kubernetes.io/region": REGION,
        "topology.kubernetes.io/zone": zone,
    }
    capacity = {
        "cpu": cpu,
        "ephemeral-storage": "98831908Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{mem_ki}Ki",
        "pods": "110",
    }
    allocatable = {
        **capacity,
        "cpu": alloc_cpu,
        "ephemeral-storage": "47060071478",
        "memory": f"{alloc_mem_ki}Ki",
    }
    spec: dict[str, Any] = {
        "podCIDR": f"10.{244 + cidr_index // 256}.{cidr_index % 256}.0/24",
        "providerID": f"gce://sandbox-project/{zone}/{name}",
    }
    spec["podCIDRs"] = [spec["podCIDR"]]
    if gpus:
        labels[GPU_LABEL] = GPU_TYPE
        labels["cloud.google.com/gke-gpu"] = "true"
        labels["cloud.google.com/gke-gpu-driver-version"] = "default"
        capacity[GPU_RESOURCE] = str(gpus)
        allocatable[GPU_RESOURCE] = str(gpus)
        spec["taints"] = [dict(GPU_TAINT)]
    stamp = rfc3339()
    boot = hashlib.sha256(name.encode()).hexdigest()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                "container.googleapis.com/instance_id": str(int(boot[:15], 16)),
            },
        },
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "addresses": [
                {"type": "InternalIP", "address": internal_ip},
                {
                    "type": "ExternalIP",
                    "address": f"34.{70 + cidr_index // 250}.{cidr_index % 250}.{10 + index % 200}",
                },
                {"type": "InternalDNS", "address": f"{name}.{zone}.c.sandbox-project.internal"},
                {"type": "Hostname", "address": f"{name}.{zone}.c.sandbox-project.internal"},
            ],
            "conditions": _conditions(stamp, stamp),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": f"{boot[:8]}-{boot[8:12]}-{boot[12:16]}-{boot[16:20]}-{boot[20:32]}",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kernelVersion": "6.1.112+",
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": boot[32:64],
                "operatingSystem": "linux",
                "osImage": "Container-Optimized OS from Google",
                "systemUUID": f"{boot[:8]}-{boot[8:12]}-{boot[12:16]}-{boot[16:20]}-{boot[32:44]}",
            },
        },
    }


def _conditions(heartbeat: str, transition: str) -> list[dict]:
    rows = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return [
        {
            "type": cond_type,
            "status": status,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        }
        for cond_type, status, reason, message in rows
    ]


def ensure_nodes(cluster: Any) -> None:
    """Create the nodes the options ask for; existing ones (from --state) are kept as they are."""
    options = cluster.options
    wanted = [("default-pool", i) for i in range(int(getattr(options, "nodes", 0) or 0))]
    wanted += [("gpu-pool", i) for i in range(int(getattr(options, "gpu_nodes", 0) or 0))]
    api = cluster.api
    for cidr_index, (pool, index) in enumerate(wanted):
        if api.get("nodes", "", node_name(pool, index)) is None:
            api.create("nodes", build_node(pool, index, cidr_index))
