"""Reads of the cluster registry."""

from django.db.models import QuerySet
from django.http import Http404

from controlplane.accounts.models import RoleGrant

from .models import Cluster


def cluster_list(*, user) -> QuerySet[Cluster]:
    """Clusters the user holds any role on (every cluster for superusers)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Cluster.objects.none()
    if user.is_superuser:
        return Cluster.objects.all()
    cluster_ids = RoleGrant.objects.filter(user=user).values("cluster_id")
    return Cluster.objects.filter(id__in=cluster_ids)


def cluster_get(*, name: str) -> Cluster:
    try:
        return Cluster.objects.get(name=name)
    except Cluster.DoesNotExist as exc:
        raise Http404(f"No cluster named {name!r}") from exc


def in_cluster_available() -> bool:
    """Whether this process runs in a pod with a service account mounted."""
    from django.conf import settings

    return settings.IN_CLUSTER_TOKEN_PATH.is_file() and settings.IN_CLUSTER_CA_PATH.is_file()


def sandbox_available() -> bool:
    from django.conf import settings

    return settings.SANDBOX_KUBECONFIG.is_file()
