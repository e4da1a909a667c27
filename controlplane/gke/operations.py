"""What a GKE action's task does: start Google's operation once, follow it to DONE (progress
kept on a GkeOperation row and broadcast), then register or unregister the cluster.

A task that runs again (a lost worker, the sweep, the next slice of a long operation) finds
the operation it started on the row and follows that one instead of starting another.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction

from controlplane.audit.models import ActionStatus, AuditEvent
from controlplane.audit.services import action_record
from controlplane.clusters.crypto import encrypt_json
from controlplane.clusters.models import Cluster, ClusterSource

from . import google
from .errors import GkeError
from .live import gke_action_broadcast
from .models import GkeCredential, GkeOperation

log = logging.getLogger(__name__)


class FollowLater(Exception):
    """The operation is still running at the end of this task's slice; follow it again."""


def _credential(event: AuditEvent) -> GkeCredential:
    credential = GkeCredential.objects.filter(project_id=event.parameters["project"]).first()
    if credential is None:
        raise GkeError(
            f"the GKE credentials of project {event.parameters['project']!r} were removed"
        )
    return credential


def _args(credential: GkeCredential, event: AuditEvent) -> dict:
    return {
        "key": credential.key(),
        "endpoint": credential.endpoint,
        "project": credential.project_id,
        "location": event.parameters["location"],
    }


def cluster_spec(parameters: dict) -> dict:
    """The Cluster resource (API JSON) a create action asks for."""
    spec: dict = {
        "name": parameters["cluster"],
        "initialNodeCount": parameters["node_count"],
        "nodeConfig": {"machineType": parameters["machine_type"]},
    }
    if parameters.get("release_channel"):
        spec["releaseChannel"] = {"channel": parameters["release_channel"]}
    if parameters.get("workload_identity"):
        spec["workloadIdentityConfig"] = {"workloadPool": f"{parameters['project']}.svc.id.goog"}
        spec["nodeConfig"]["workloadMetadataConfig"] = {"mode": "GKE_METADATA"}
    autoscaling = parameters.get("autoscaling")
    if autoscaling:
        # Autoscaling is a node pool's: the default pool is then spelled out.
        spec = {k: v for k, v in spec.items() if k not in ("initialNodeCount", "nodeConfig")}
        spec["nodePools"] = [
            {
                "name": "default-pool",
                "initialNodeCount": parameters["node_count"],
                "config": {"machineType": parameters["machine_type"]},
                "autoscaling": {
                    "enabled": True,
                    "minNodeCount": autoscaling["min_node_count"],
                    "maxNodeCount": autoscaling["max_node_count"],
                },
            }
        ]
    return spec


def nodepool_spec(parameters: dict) -> dict:
    config: dict = {"machineType": parameters["machine_type"]}
    if parameters.get("accelerator_type"):
        accelerator: dict = {
            "acceleratorType": parameters["accelerator_type"],
            "acceleratorCount": str(parameters["accelerator_count"]),
        }
        if parameters.get("gpu_driver"):
            accelerator["gpuDriverInstallationConfig"] = {
                "gpuDriverVersion": parameters["gpu_driver"]
            }
        config["accelerators"] = [accelerator]
    spec: dict = {
        "name": parameters["node_pool"],
        "initialNodeCount": parameters["node_count"],
        "config": config,
    }
    autoscaling = parameters.get("autoscaling")
    if autoscaling:
        spec["autoscaling"] = {
            "enabled": True,
            "minNodeCount": autoscaling["min_node_count"],
            "maxNodeCount": autoscaling["max_node_count"],
        }
    return spec


def _start(event: AuditEvent, credential: GkeCredential) -> GkeOperation:
    existing = GkeOperation.objects.filter(action_id=event.id).first()
    if existing is not None:
        return existing
    p = event.parameters
    args = _args(credential, event)
    verb = (event.kind, event.verb)
    if verb == ("gke-cluster", "create"):
        op = google.cluster_create(**args, spec=cluster_spec(p))
    elif verb == ("gke-cluster", "delete"):
        op = google.cluster_delete(**args, name=p["cluster"])
    elif verb == ("gke-nodepool", "create"):
        op = google.nodepool_create(**args, cluster=p["cluster"], spec=nodepool_spec(p))
    elif verb == ("gke-nodepool", "resize"):
        op = google.nodepool_set_size(
            **args, cluster=p["cluster"], pool=p["node_pool"], node_count=p["node_count"]
        )
    elif verb == ("gke-nodepool", "autoscale"):
        scaling = p.get("autoscaling") or {}
        op = google.nodepool_set_autoscaling(
            **args,
            cluster=p["cluster"],
            pool=p["node_pool"],
            enabled=bool(scaling),
            min_node_count=scaling.get("min_node_count", 0),
            max_node_count=scaling.get("max_node_count", 0),
        )
    elif verb == ("gke-nodepool", "delete"):
        op = google.nodepool_delete(**args, cluster=p["cluster"], pool=p["node_pool"])
    else:
        raise GkeError(f"no GKE operation for {event.kind} {event.verb}")
    return GkeOperation.objects.create(
        action_id=event.id,
        credential=credential,
        location=p["location"],
        cluster=p["cluster"],
        node_pool=p.get("node_pool", ""),
        operation_type=op.get("operationType", ""),
        name=op["name"],
        status=op.get("status", "PENDING"),
        progress=op.get("progress", {}),
    )


def _record(event: AuditEvent, row: GkeOperation, op: dict) -> None:
    error = (op.get("error") or {}).get("message", "")
    changed = (row.status, row.progress, row.error) != (
        op.get("status", ""),
        op.get("progress", {}),
        error,
    )
    if not changed:
        return
    with transaction.atomic():
        row.status = op.get("status", "")
        row.progress = op.get("progress", {})
        row.error = error
        row.save(update_fields=["status", "progress", "error", "updated"])
        gke_action_broadcast(event=event)


def operation_follow(event: AuditEvent) -> dict:
    """Start (once) and follow the action's operation to DONE; returns the action's result.
    Raises FollowLater at the end of a slice, GkeError with Google's message when it failed."""
    credential = _credential(event)
    row = _start(event, credential)
    args = _args(credential, event)
    deadline = time.monotonic() + settings.GKE_FOLLOW_SLICE_SECONDS
    while True:
        op = google.operation_get(**args, name=row.name)
        _record(event, row, op)
        if op.get("status") == "DONE":
            break
        if time.monotonic() > deadline:
            raise FollowLater(row.name)
        time.sleep(settings.GKE_POLL_SECONDS)
    error = op.get("error") or {}
    if error.get("message"):
        # Google's words, verbatim: the action's error and the page say exactly this.
        raise GkeError(
            error["message"], code=int(error.get("code") or 0), status="OPERATION_FAILED"
        )
    result = {"operation": row.name, "operation_type": row.operation_type}
    if (event.kind, event.verb) == ("gke-cluster", "create"):
        result["registered_as"] = cluster_register(event=event, credential=credential).name
    elif (event.kind, event.verb) == ("gke-cluster", "delete"):
        result["unregistered"] = cluster_unregister(event=event, credential=credential)
    return result


def _registration_name(gke_name: str, location: str) -> str:
    if not Cluster.objects.filter(name=gke_name).exists():
        return gke_name
    return f"{gke_name}-{location}"[:63].rstrip("-")


def cluster_register(*, event: AuditEvent, credential: GkeCredential) -> Cluster:
    """Make the new GKE cluster a cluster of the control plane: its endpoint and CA, and a
    token provider (Google access tokens) instead of a stored token."""
    p = event.parameters
    for cluster in Cluster.objects.filter(source=ClusterSource.GKE):
        if _identity(cluster) == (credential.pk, p["location"], p["cluster"]):
            return cluster  # this task ran before and registered it
    info = google.cluster_get(**_args(credential, event), name=p["cluster"])
    ca = info.get("masterAuth", {}).get("clusterCaCertificate", "")
    stored = {
        "ca_data": ca or None,
        "gke_credential": credential.pk,
        "gke": {
            "project": credential.project_id,
            "location": p["location"],
            "cluster": p["cluster"],
        },
        "insecure": False,
    }
    name = _registration_name(p["cluster"], p["location"])
    with transaction.atomic():
        cluster = Cluster.objects.create(
            name=name,
            display_name=f"GKE {p['cluster']} ({p['location']})",
            server=f"https://{info['endpoint']}",
            source=ClusterSource.GKE,
            context=f"gke_{credential.project_id}_{p['location']}_{p['cluster']}",
            credentials_encrypted=encrypt_json(stored),
        )
        action_record(
            actor=event.actor,
            cluster=cluster,
            kind="cluster",
            name=name,
            verb="create",
            parameters={
                "source": ClusterSource.GKE.value,
                "server": cluster.server,
                "gke_action": str(event.id),
            },
            status=ActionStatus.SUCCEEDED,
        )
    return cluster


def _identity(cluster: Cluster) -> tuple:
    from controlplane.clusters.crypto import decrypt_json

    stored = decrypt_json(cluster.credentials_encrypted) if cluster.credentials_encrypted else {}
    gke = stored.get("gke") or {}
    return (stored.get("gke_credential"), gke.get("location"), gke.get("cluster"))


def cluster_unregister(*, event: AuditEvent, credential: GkeCredential) -> str:
    """Remove the control plane's cluster for a deleted GKE cluster; its name, or ""."""
    p = event.parameters
    for cluster in Cluster.objects.filter(source=ClusterSource.GKE):
        if _identity(cluster) == (credential.pk, p["location"], p["cluster"]):
            name = cluster.name
            with transaction.atomic():
                action_record(
                    actor=event.actor,
                    cluster=cluster,
                    kind="cluster",
                    name=name,
                    verb="delete",
                    parameters={"server": cluster.server, "gke_action": str(event.id)},
                    status=ActionStatus.SUCCEEDED,
                )
                cluster.delete()
            return name
    return ""
