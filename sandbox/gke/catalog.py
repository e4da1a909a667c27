"""What the local GKE knows of Google Cloud: locations, machine types, accelerators, and the
enum values of container v1 (the client sends enums as numbers, Google answers with names)."""

from __future__ import annotations

import re

REGIONS: dict[str, tuple[str, ...]] = {
    "us-central1": ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"),
    "us-east1": ("us-east1-b", "us-east1-c", "us-east1-d"),
    "us-west1": ("us-west1-a", "us-west1-b", "us-west1-c"),
    "europe-west1": ("europe-west1-b", "europe-west1-c", "europe-west1-d"),
    "europe-west4": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
    "asia-east1": ("asia-east1-a", "asia-east1-b", "asia-east1-c"),
}
ZONES = {zone: region for region, zones in REGIONS.items() for zone in zones}

ACCELERATORS = {
    "nvidia-tesla-t4",
    "nvidia-tesla-v100",
    "nvidia-tesla-p100",
    "nvidia-tesla-p4",
    "nvidia-tesla-a100",
    "nvidia-a100-80gb",
    "nvidia-l4",
    "nvidia-h100-80gb",
}

# e2-medium is the one shared-core type worth naming; standard types say their vCPUs.
_SHARED_CORE = {"e2-micro": (2, 1), "e2-small": (2, 2), "e2-medium": (2, 4)}
_MACHINE = re.compile(r"^(e2|n1|n2|n2d|c2|c3|g2|a2|a3)-(standard|highmem|highcpu|highgpu)-(\d+)g?$")
_GIB_PER_VCPU = {"standard": 4, "highmem": 8, "highcpu": 1, "highgpu": 85 / 12}

RELEASE_CHANNELS = {0: "UNSPECIFIED", 1: "RAPID", 2: "REGULAR", 3: "STABLE", 4: "EXTENDED"}
GPU_DRIVER_VERSIONS = {0: "GPU_DRIVER_VERSION_UNSPECIFIED", 1: "INSTALLATION_DISABLED",
                       2: "DEFAULT", 3: "LATEST"}  # fmt: skip
CLUSTER_VERSION = "1.31.6-gke.1020000"


def location_zones(location: str) -> tuple[str, ...] | None:
    """The zones a cluster in `location` spreads over (one for a zone), None if unknown."""
    if location in ZONES:
        return (location,)
    return REGIONS.get(location)


def machine_shape(machine_type: str) -> tuple[int, int] | None:
    """(vCPUs, memory GiB) of a machine type, None when Compute Engine has no such type."""
    if machine_type in _SHARED_CORE:
        return _SHARED_CORE[machine_type]
    match = _MACHINE.match(machine_type)
    if match is None:
        return None
    cpus = int(match.group(3))
    return cpus, max(1, round(cpus * _GIB_PER_VCPU[match.group(2)]))


def enum_name(value: object, names: dict[int, str]) -> str | None:
    """A request's enum as its name: numbers (what the client sends) and names both accepted."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return names.get(value)
    if isinstance(value, str) and value in names.values():
        return value
    return None
