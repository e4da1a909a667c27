"""Reads of the cluster registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404

from controlplane.accounts.models import RoleGrant
from controlplane.accounts.selectors import user_can

from .models import Cluster

if TYPE_CHECKING:
    from controlplane.accounts.types import User


def cluster_list(*, user: User) -> QuerySet[Cluster]:
    """Clusters the user holds any role on (every cluster for superusers)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Cluster.objects.none()
    if user.is_superuser:
        return Cluster.objects.all()
    cluster_ids = RoleGrant.objects.filter(user=user).values("cluster_id")
    return Cluster.objects.filter(id__in=cluster_ids)


def cluster_get(*, name: str, user: User | None = None) -> Cluster:
    """The named cluster; with `user`, only if they may see it.

    A cluster the user holds no role on is a 404 like a missing one, not a 403: whether a
    cluster exists is itself information.
    """
    try:
        cluster = Cluster.objects.get(name=name)
    except Cluster.DoesNotExist as exc:
        raise Http404(f"No cluster named {name!r}") from exc
    if user is not None and not user_can(user=user, permission="view", cluster=cluster):
        raise Http404(f"No cluster named {name!r}")
    return cluster


def in_cluster_available() -> bool:
    """Whether this process runs in a pod with a service account mounted."""
    return settings.IN_CLUSTER_TOKEN_PATH.is_file() and settings.IN_CLUSTER_CA_PATH.is_file()


def sandbox_available() -> bool:
    return settings.SANDBOX_KUBECONFIG.is_file()
