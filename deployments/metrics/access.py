"""Who may read which metrics: a pod's or a deployment's need view on its namespace; a node's
need a cluster-wide view grant, since a node runs pods of every namespace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import user_can, visible_namespaces

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster


def metrics_may_view(*, user: User, cluster: Cluster, namespace: str | None) -> bool:
    if namespace is not None:
        return user_can(user=user, permission="view", cluster=cluster, namespace=namespace)
    return (
        user_can(user=user, permission="view", cluster=cluster, namespace=None)
        and visible_namespaces(user=user, cluster=cluster) is None
    )


def metrics_require_view(*, user: User, cluster: Cluster, namespace: str | None) -> None:
    if not metrics_may_view(user=user, cluster=cluster, namespace=namespace):
        where = f"namespace {namespace}" if namespace is not None else "the nodes"
        raise PermissionDenied(f"You may not view {where} on cluster {cluster.name}.")
