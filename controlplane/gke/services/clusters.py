"""Creating and deleting GKE clusters, as actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.audit.models import AuditEvent

from ..models import GkeCredential
from .actions import gke_action
from .checks import (
    _TYPE,
    RELEASE_CHANNELS,
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


def gke_cluster_create(
    *,
    actor: User,
    credential: GkeCredential,
    location: object,
    name: object,
    node_count: object = 3,
    machine_type: object = "e2-medium",
    release_channel: object = "REGULAR",
    autoscaling: object = None,
    workload_identity: object = False,
    request_id: str | None = None,
) -> AuditEvent:
    from ..tasks import gke_cluster_create_task

    parameters = {
        "project": credential.project_id,
        "location": location,
        "cluster": name,
        "node_count": node_count,
        "machine_type": machine_type,
        "release_channel": release_channel,
        "autoscaling": autoscaling,
        "workload_identity": workload_identity,
    }

    def check():
        return {
            **parameters,
            "location": _location(location),
            "cluster": _name(name),
            "node_count": _count(node_count, "node_count"),
            "machine_type": _text(
                machine_type, "machine_type", _TYPE, "a machine type such as e2-standard-4"
            ),
            "release_channel": _choice(release_channel, "release_channel", RELEASE_CHANNELS),
            "autoscaling": _autoscaling(autoscaling),
            "workload_identity": _bool(workload_identity, "workload_identity"),
        }

    return gke_action(
        actor=actor,
        credential=credential,
        kind="gke-cluster",
        name=str(name)[:253],
        verb="create",
        parameters=parameters,
        check=check,
        task=gke_cluster_create_task,
        request_id=request_id,
    )


def gke_cluster_delete(
    *,
    actor: User,
    credential: GkeCredential,
    location: str,
    name: str,
    request_id: str | None = None,
) -> AuditEvent:
    from ..tasks import gke_cluster_delete_task

    parameters = {"project": credential.project_id, "location": location, "cluster": name}

    def check():
        return {**parameters, "location": _location(location), "cluster": _name(name)}

    return gke_action(
        actor=actor,
        credential=credential,
        kind="gke-cluster",
        name=name,
        verb="delete",
        parameters=parameters,
        check=check,
        task=gke_cluster_delete_task,
        request_id=request_id,
    )
