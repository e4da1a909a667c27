"""Writes of the GKE app; only admins (superusers) may do any of it."""

from .checks import MAX_KEY_BYTES, MISSING
from .clusters import gke_cluster_create, gke_cluster_delete
from .credentials import gke_credential_create, gke_credential_delete
from .nodepools import (
    gke_nodepool_autoscale,
    gke_nodepool_create,
    gke_nodepool_delete,
    gke_nodepool_resize,
)

__all__ = [
    "MAX_KEY_BYTES",
    "MISSING",
    "gke_cluster_create",
    "gke_cluster_delete",
    "gke_credential_create",
    "gke_credential_delete",
    "gke_nodepool_autoscale",
    "gke_nodepool_create",
    "gke_nodepool_delete",
    "gke_nodepool_resize",
]
