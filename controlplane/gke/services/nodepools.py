"""Node pools as actions: create (GPU pools too), resize, autoscaling, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from controlplane.audit.models import AuditEvent

from ..models import GkeCredential
from .actions import gke_action
from .checks import (
    _TYPE,
    GPU_DRIVERS,
    MISSING,
    _autoscaling,
    _bool,
    _choice,
    _count,
    _location,
    _name,
    _text,
)

if TYPE_CHECKING:
    from controlplane.accounts.types import User


def gke_nodepool_create(
    *,
    actor: User,
    credential: GkeCredential,
    location: str,
    cluster: str,
    name: object,
    node_count: object = 1,
    machine_type: object = "e2-medium",
    accelerator_type: object = "",
    accelerator_count: object = 1,
    gpu_driver: object = "DEFAULT",
    autoscaling: object = None,
    request_id: str | None = None,
) -> AuditEvent:
    from ..tasks import gke_nodepool_create_task

    parameters = {
        "project": credential.project_id,
        "location": location,
        "cluster": cluster,
        "node_pool": name,
        "node_count": node_count,
        "machine_type": machine_type,
        "accelerator_type": accelerator_type,
        "accelerator_count": accelerator_count,
        "gpu_driver": gpu_driver,
        "autoscaling": autoscaling,
    }

    def check():
        accel = accelerator_type or ""
        if accel:
            _text(accel, "accelerator_type", _TYPE, "an accelerator type such as nvidia-tesla-t4")
        return {
            **parameters,
            "location": _location(location),
            "cluster": _name(cluster, "cluster"),
            "node_pool": _name(name),
            "node_count": _count(node_count, "node_count"),
            "machine_type": _text(
                machine_type, "machine_type", _TYPE, "a machine type such as n1-standard-8"
            ),
            "accelerator_type": accel,
            "accelerator_count": _count(accelerator_count, "accelerator_count", low=1, high=16)
            if accel
            else 0,
            "gpu_driver": _choice(gpu_driver, "gpu_driver", GPU_DRIVERS) if accel else "",
            "autoscaling": _autoscaling(autoscaling),
        }

    return gke_action(
        actor=actor,
        credential=credential,
        kind="gke-nodepool",
        name=f"{cluster}/{name}"[:253],
        verb="create",
        parameters=parameters,
        check=check,
        task=gke_nodepool_create_task,
        request_id=request_id,
    )


def _pool_target(credential, location, cluster, pool) -> dict:
    return {
        "project": credential.project_id,
        "location": location,
        "cluster": cluster,
        "node_pool": pool,
    }


def _pool_checked(parameters: dict) -> dict:
    return {
        **parameters,
        "location": _location(parameters["location"]),
        "cluster": _name(parameters["cluster"], "cluster"),
        "node_pool": _name(parameters["node_pool"], "node_pool"),
    }


def gke_nodepool_resize(
    *,
    actor: User,
    credential: GkeCredential,
    location: str,
    cluster: str,
    pool: str,
    node_count: object,
    request_id: str | None = None,
) -> AuditEvent:
    from ..tasks import gke_nodepool_resize_task

    parameters = {**_pool_target(credential, location, cluster, pool), "node_count": node_count}

    def check():
        clean = _pool_checked(parameters)
        if node_count is MISSING:
            raise ValidationError({"node_count": ["This field is required."]})
        return {**clean, "node_count": _count(node_count, "node_count")}

    return gke_action(
        actor=actor,
        credential=credential,
        kind="gke-nodepool",
        name=f"{cluster}/{pool}",
        verb="resize",
        parameters={**parameters, "node_count": None if node_count is MISSING else node_count},
        check=check,
        task=gke_nodepool_resize_task,
        request_id=request_id,
    )


def gke_nodepool_autoscale(
    *,
    actor: User,
    credential: GkeCredential,
    location: str,
    cluster: str,
    pool: str,
    enabled: object,
    min_node_count: object = 0,
    max_node_count: object = MISSING,
    request_id: str | None = None,
) -> AuditEvent:
    """Turn autoscaling on with bounds (min 0 allowed: scale from zero), or off."""
    from ..tasks import gke_nodepool_autoscale_task

    bounds = {
        "min_node_count": min_node_count,
        "max_node_count": None if max_node_count is MISSING else max_node_count,
    }
    parameters = {
        **_pool_target(credential, location, cluster, pool),
        "enabled": None if enabled is MISSING else enabled,
        **bounds,
    }

    def check():
        on = _bool(parameters["enabled"], "enabled")
        if on and max_node_count is MISSING:
            raise ValidationError({"max_node_count": ["Required when enabled is true."]})
        target = _pool_checked(_pool_target(credential, location, cluster, pool))
        return {**target, "autoscaling": _autoscaling(bounds) if on else None}

    return gke_action(
        actor=actor,
        credential=credential,
        kind="gke-nodepool",
        name=f"{cluster}/{pool}",
        verb="autoscale",
        parameters=parameters,
        check=check,
        task=gke_nodepool_autoscale_task,
        request_id=request_id,
    )


def gke_nodepool_delete(
    *,
    actor: User,
    credential: GkeCredential,
    location: str,
    cluster: str,
    pool: str,
    request_id: str | None = None,
) -> AuditEvent:
    from ..tasks import gke_nodepool_delete_task

    parameters = _pool_target(credential, location, cluster, pool)
    return gke_action(
        actor=actor,
        credential=credential,
        kind="gke-nodepool",
        name=f"{cluster}/{pool}",
        verb="delete",
        parameters=parameters,
        check=lambda: _pool_checked(parameters),
        task=gke_nodepool_delete_task,
        request_id=request_id,
    )
