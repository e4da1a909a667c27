"""Requests checked and turned into stored Cluster and NodePool resources, as GKE validates
them (field paths and wording of its INVALID_ARGUMENT answers)."""

from __future__ import annotations

import re

from . import catalog
from .errors import GoogleError, invalid

_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
_NAME_RULE = (
    "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)' (only alphanumerics "
    "and '-' allowed, must start with a letter and end with an alphanumeric, and must be no "
    "longer than 40 characters)."
)
DEFAULT_MACHINE = "e2-medium"


def check_location(location: str) -> tuple[str, ...]:
    zones = catalog.location_zones(location)
    if zones is None:
        raise GoogleError("NOT_FOUND", f'Location "{location}" does not exist.')
    return zones


def check_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise invalid(f'Invalid value for field "{field}": "{value}". {_NAME_RULE}')
    return value


def _int(value: object, field: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise invalid(f'Invalid value for field "{field}": {value}. Must be an integer.')
    try:
        return int(value)  # int64 fields arrive as strings in proto3 JSON
    except (TypeError, ValueError):
        raise invalid(
            f'Invalid value for field "{field}": "{value}". Must be an integer.'
        ) from None


def _autoscaling(raw: object, field: str) -> dict:
    if not isinstance(raw, dict) or not raw.get("enabled"):
        return {}
    low = _int(raw.get("minNodeCount"), f"{field}.min_node_count")
    high = _int(raw.get("maxNodeCount"), f"{field}.max_node_count")
    if low < 0:
        raise invalid(f"{field}.min_node_count must be greater than or equal to zero.")
    if high < 1 or high < low:
        raise invalid(
            f"{field}.max_node_count must be greater than zero and greater than or equal to "
            f"{field}.min_node_count."
        )
    if high > 1000:
        raise invalid(f"{field}.max_node_count must be at most 1000.")
    return {
        "enabled": True,
        "minNodeCount": low,
        "maxNodeCount": high,
        "locationPolicy": "BALANCED",
    }


def _accelerators(raw: object, field: str, zone: str) -> list[dict]:
    if not raw:
        return []
    if not isinstance(raw, list):
        raise invalid(f'Invalid value for field "{field}": must be a list.')
    out = []
    for i, accel in enumerate(raw):
        if not isinstance(accel, dict):
            raise invalid(f'Invalid value for field "{field}[{i}]": must be an object.')
        kind = accel.get("acceleratorType", "")
        if kind not in catalog.ACCELERATORS:
            raise invalid(f'Accelerator type "{kind}" does not exist in zone {zone}.')
        count = _int(accel.get("acceleratorCount"), f"{field}[{i}].accelerator_count", 1)
        if count < 1 or count > 16:
            raise invalid(
                f'Invalid value for field "{field}[{i}].accelerator_count": {count}. '
                "Must be between 1 and 16."
            )
        item = {"acceleratorCount": str(count), "acceleratorType": kind}
        driver = (accel.get("gpuDriverInstallationConfig") or {}).get("gpuDriverVersion")
        if driver is not None:
            name = catalog.enum_name(driver, catalog.GPU_DRIVER_VERSIONS)
            if name is None:
                raise invalid(
                    f'Invalid value for field "{field}[{i}].gpu_driver_installation_config'
                    f'.gpu_driver_version": {driver}.'
                )
            item["gpuDriverInstallationConfig"] = {"gpuDriverVersion": name}
        out.append(item)
    return out


def node_pool(raw: object, *, field: str, project: str, zones: tuple[str, ...]) -> dict:
    """A stored NodePool; `_per_zone` is the node count in each of its zones."""
    if not isinstance(raw, dict):
        raise invalid(f'Invalid value for field "{field}": must be an object.')
    name = check_name(raw.get("name"), f"{field}.name")
    count = _int(raw.get("initialNodeCount"), f"{field}.initial_node_count")
    if count < 0:
        raise invalid(
            f'Invalid value for field "{field}.initial_node_count": {count}. '
            "Must be greater than or equal to zero."
        )
    config = raw.get("config") or {}
    if not isinstance(config, dict):
        raise invalid(f'Invalid value for field "{field}.config": must be an object.')
    machine = config.get("machineType") or DEFAULT_MACHINE
    shape = catalog.machine_shape(machine)
    if shape is None:
        raise invalid(f'Machine type "{machine}" does not exist in zone {zones[0]}.')
    accelerators = _accelerators(
        config.get("accelerators"), f"{field}.config.accelerators", zones[0]
    )
    labels = config.get("labels") or {}
    taints = config.get("taints") or []
    if not isinstance(labels, dict) or not isinstance(taints, list):
        raise invalid(f'Invalid value for field "{field}.config": labels or taints malformed.')
    autoscaling = _autoscaling(raw.get("autoscaling"), f"{field}.autoscaling")
    if autoscaling:
        count = min(max(count, autoscaling["minNodeCount"]), autoscaling["maxNodeCount"])
    stored_config = {
        "machineType": machine,
        "diskSizeGb": _int(config.get("diskSizeGb"), f"{field}.config.disk_size_gb", 100),
        "diskType": config.get("diskType") or "pd-balanced",
        "imageType": "COS_CONTAINERD",
        "oauthScopes": config.get("oauthScopes")
        or ["https://www.googleapis.com/auth/cloud-platform"],
        "labels": labels,
        "taints": taints,
        "accelerators": accelerators,
    }
    workload = config.get("workloadMetadataConfig")
    if isinstance(workload, dict) and workload.get("mode") is not None:
        stored_config["workloadMetadataConfig"] = {"mode": "GKE_METADATA"}
    return {
        "name": name,
        "config": stored_config,
        "initialNodeCount": count,
        "autoscaling": autoscaling,
        "locations": list(zones),
        "version": catalog.CLUSTER_VERSION,
        "status": "PROVISIONING",
        "management": {"autoUpgrade": True, "autoRepair": True},
        "maxPodsConstraint": {"maxPodsPerNode": "110"},
        "podIpv4CidrSize": 24,
        "_per_zone": count,
        "_shape": shape,
        "_project": project,
    }


def cluster(raw: object, *, project: str, location: str, zones: tuple[str, ...]) -> dict:
    """A stored Cluster with its node pools (`_pools`, by name)."""
    if not isinstance(raw, dict):
        raise invalid('Invalid value for field "cluster": must be an object.')
    name = check_name(raw.get("name"), "cluster.name")
    pools_raw = raw.get("nodePools") or []
    count = _int(raw.get("initialNodeCount"), "cluster.initial_node_count")
    if pools_raw and count:
        raise invalid("Cluster.initial_node_count and Cluster.node_pools cannot both be specified.")
    if not pools_raw:
        if count <= 0:
            raise invalid("Cluster.initial_node_count must be greater than zero.")
        pools_raw = [
            {
                "name": "default-pool",
                "initialNodeCount": count,
                "config": raw.get("nodeConfig") or {},
            }
        ]
    pools = {}
    for i, pool_raw in enumerate(pools_raw):
        pool = node_pool(pool_raw, field=f"cluster.node_pools[{i}]", project=project, zones=zones)
        if pool["name"] in pools:
            raise invalid(f'Node pool "{pool["name"]}" is specified more than once.')
        pools[pool["name"]] = pool
    channel_raw = (raw.get("releaseChannel") or {}).get("channel", 0)
    channel = catalog.enum_name(channel_raw, catalog.RELEASE_CHANNELS)
    if channel is None:
        raise invalid(f'Invalid value for field "cluster.release_channel.channel": {channel_raw}.')
    workload_pool = (raw.get("workloadIdentityConfig") or {}).get("workloadPool") or ""
    if workload_pool and workload_pool != f"{project}.svc.id.goog":
        raise invalid(
            f'Invalid value for field "cluster.workload_identity_config.workload_pool": '
            f'"{workload_pool}". Must be "{project}.svc.id.goog".'
        )
    resource = {
        "name": name,
        "description": raw.get("description", ""),
        "network": raw.get("network") or "default",
        "subnetwork": raw.get("subnetwork") or "default",
        "locations": list(zones),
        "location": location,
        "zone": location,
        "initialClusterVersion": catalog.CLUSTER_VERSION,
        "currentMasterVersion": catalog.CLUSTER_VERSION,
        "currentNodeVersion": catalog.CLUSTER_VERSION,
        "releaseChannel": {"channel": channel} if channel != "UNSPECIFIED" else {},
        "resourceLabels": raw.get("resourceLabels") or {},
        "clusterIpv4Cidr": "10.44.0.0/14",
        "servicesIpv4Cidr": "34.118.224.0/20",
        "status": "PROVISIONING",
        "_pools": pools,
    }
    if workload_pool:
        resource["workloadIdentityConfig"] = {"workloadPool": workload_pool}
    return resource


def node_count(raw: object, field: str = "node_count") -> int:
    count = _int(raw, field)
    if count < 0:
        raise invalid(
            f'Invalid value for field "{field}": {count}. Must be greater than or equal to zero.'
        )
    if count > 1000:
        raise invalid(f'Invalid value for field "{field}": {count}. Must be at most 1000.')
    return count


def autoscaling(raw: object) -> dict:
    if not isinstance(raw, dict):
        raise invalid('Invalid value for field "autoscaling": must be an object.')
    return _autoscaling(raw, "autoscaling")
