"""Reads: GKE credentials, and clusters, node pools and operations as Google reports them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from controlplane.audit.models import ActionStatus
from controlplane.audit.services import action_record
from controlplane.clusters.crypto import decrypt_json
from controlplane.clusters.models import Cluster, ClusterSource

from . import google
from .models import GkeCredential, GkeOperation

if TYPE_CHECKING:
    from controlplane.accounts.types import User


def gke_admin_require(*, user: User, verb: str = "view", name: str = "") -> None:
    """GKE is managed by admins only (superusers: creating clusters is adding clusters);
    a refusal is audited."""
    if getattr(user, "is_superuser", False):
        return
    who = getattr(user, "username", "") or "anonymous"
    action_record(
        actor=user if getattr(user, "is_authenticated", False) else None,
        cluster=None,
        kind="gke",
        name=name[:253],
        verb=verb,
        status=ActionStatus.REFUSED,
        error=f"{who} is not an admin: only admins manage GKE",
    )
    raise PermissionDenied("Only admins may manage GKE credentials, clusters and node pools.")


def credential_list(*, user: User) -> QuerySet[GkeCredential]:
    gke_admin_require(user=user, verb="list", name="credentials")
    return GkeCredential.objects.all()


def credential_get(*, user: User, project: str, verb: str = "view") -> GkeCredential:
    gke_admin_require(user=user, verb=verb, name=project)
    credential = GkeCredential.objects.filter(project_id=project).first()
    if credential is None:
        raise Http404(f"No GKE credentials for project {project!r}")
    return credential


def _google_args(credential: GkeCredential) -> dict:
    return {
        "key": credential.key(),
        "endpoint": credential.endpoint,
        "project": credential.project_id,
    }


def gke_clusters_list(*, credential: GkeCredential, location: str) -> list[dict]:
    """The project's clusters in `location` ("-": every location), as Google lists them,
    each with `registered`: the control plane's cluster name for it, or None."""
    items = google.clusters_list(**_google_args(credential), location=location)
    registered = registered_clusters(credential=credential)
    for item in items:
        item["registered"] = registered.get((item.get("location", location), item.get("name")))
    return items


def gke_cluster_get(*, credential: GkeCredential, location: str, name: str) -> dict:
    item = google.cluster_get(**_google_args(credential), location=location, name=name)
    item["registered"] = registered_clusters(credential=credential).get((location, name))
    return item


def gke_operations_list(*, credential: GkeCredential, location: str) -> list[dict]:
    return google.operations_list(**_google_args(credential), location=location)


def gke_operation_list(
    *, credential: GkeCredential, location: str | None = None
) -> QuerySet[GkeOperation]:
    """Operations started from here, as last followed (newest first)."""
    ops = GkeOperation.objects.filter(credential=credential)
    return ops.filter(location=location) if location else ops


def registered_clusters(*, credential: GkeCredential) -> dict[tuple[str, str], str]:
    """(location, GKE name) -> control-plane cluster name, for clusters registered from it."""
    found = {}
    for cluster in Cluster.objects.filter(source=ClusterSource.GKE):
        stored = (
            decrypt_json(cluster.credentials_encrypted) if cluster.credentials_encrypted else {}
        )
        gke = stored.get("gke") or {}
        if stored.get("gke_credential") == credential.pk:
            found[(gke.get("location"), gke.get("cluster"))] = cluster.name
    return found


def gke_identity(*, cluster: Cluster) -> dict | None:
    """{"project", "location", "cluster"} of a registered GKE cluster, else None."""
    if cluster.source != ClusterSource.GKE or not cluster.credentials_encrypted:
        return None
    return (decrypt_json(cluster.credentials_encrypted).get("gke")) or None


def gke_action_list(*, credential: GkeCredential, limit: int = 20) -> list[dict]:
    """The project's recent GKE actions, newest first, each with the operation it follows
    (None until its task started one): what the operations section of the pages shows."""
    from controlplane.audit.models import AuditEvent

    events = list(
        AuditEvent.objects.filter(
            kind__in=("gke-cluster", "gke-nodepool"), parameters__project=credential.project_id
        ).order_by("-created")[:limit]
    )
    ops = {
        op.action_id: op for op in GkeOperation.objects.filter(action_id__in=[e.id for e in events])
    }
    return [{"event": event, "operation": ops.get(event.id)} for event in events]


def registered_pool_nodes(*, cluster_name: str | None) -> dict:
    """How many nodes each pool has, counted in the registered cluster itself (the v1 API
    reports a pool's initial count, not its size): {"pools": {pool: n}, "source", "as_of",
    "error"}; empty when the cluster is not registered."""
    from controlplane.live.snapshot import snapshot_get

    cluster = Cluster.objects.filter(name=cluster_name).first() if cluster_name else None
    if cluster is None:
        return {}
    snap = snapshot_get(cluster=cluster, kind="nodes")
    pools: dict[str, int] = {}
    for node in snap.objects:
        pool = ((node.get("metadata") or {}).get("labels") or {}).get(
            "cloud.google.com/gke-nodepool"
        )
        if pool:
            pools[pool] = pools.get(pool, 0) + 1
    return {"pools": pools, "source": snap.source, "as_of": snap.as_of, "error": snap.error}
