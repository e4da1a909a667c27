"""Reads about who may do what. Superusers are admin on every cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.http import Http404

from .grant_memo import MISS, memo_get, memo_put
from .models import ApiToken, GroupMapping, RoleGrant
from .roles import Role, role_allows

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster


def _grant(*, user, cluster) -> RoleGrant | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    # Memoized for one HTTP request only: a revoked grant counts at the very next request.
    key = (user.pk, cluster.pk)
    grant = memo_get(key)
    if grant is MISS:
        grant = RoleGrant.objects.filter(user=user, cluster=cluster).first()
        memo_put(key, grant)
    return grant


def role_for(*, user: User, cluster: Cluster, namespace: str | None = None) -> Role | None:
    """The user's role on the cluster (inside `namespace` when given), or None.

    With no namespace, a grant narrowed to namespaces does not count: cluster-scoped
    actions need a cluster-wide grant.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    grant = _grant(user=user, cluster=cluster)
    if grant is None:
        return None
    if grant.namespaces and (namespace is None or namespace not in grant.namespaces):
        return None
    return grant.role_enum


def user_can(
    *, user: User, permission: str, cluster: Cluster, namespace: str | None = None
) -> bool:
    role = role_for(user=user, cluster=cluster, namespace=namespace)
    if role_allows(role, permission):
        return True
    # Anyone with a narrowed grant may see the cluster itself (its namespaces are filtered).
    if permission == "view" and namespace is None:
        grant = _grant(user=user, cluster=cluster)
        return grant is not None and bool(grant.namespaces)
    return False


def visible_namespaces(*, user: User, cluster: Cluster) -> set[str] | None:
    """None when the user sees every namespace; otherwise the set they may see."""
    if getattr(user, "is_superuser", False):
        return None
    grant = _grant(user=user, cluster=cluster)
    if grant is None:
        return set()
    return set(grant.namespaces) if grant.namespaces else None


def role_grant_list(*, cluster: Cluster | None = None) -> QuerySet[RoleGrant]:
    grants = RoleGrant.objects.select_related("user", "cluster")
    return grants.filter(cluster=cluster) if cluster is not None else grants.all()


def role_grant_get(*, cluster: Cluster, username: str) -> RoleGrant:
    grant = role_grant_list(cluster=cluster).filter(user__username=username).first()
    if grant is None:
        raise Http404(f"{username!r} holds no role on {cluster.name}")
    return grant


def group_mapping_list(*, cluster: Cluster) -> QuerySet[GroupMapping]:
    return GroupMapping.objects.filter(cluster=cluster).select_related("cluster")


def group_mapping_get(*, cluster: Cluster, mapping_id: int) -> GroupMapping:
    mapping = group_mapping_list(cluster=cluster).filter(pk=mapping_id).first()
    if mapping is None:
        raise Http404(f"No group mapping {mapping_id} on {cluster.name}.")
    return mapping


# --- Users ------------------------------------------------------------------------------------
# Who manages people: superusers, and anyone holding the admin role on a whole cluster. A
# cluster admin grants roles only on the clusters they administer, and deactivates (or sees
# the API tokens of) only people who are not superusers and hold no role outside those
# clusters: nobody can lock out someone with more reach than their own.


def admin_cluster_ids(*, user: User) -> set[int] | None:
    """Ids of the clusters `user` administers as a whole; None means every cluster."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return None
    grants = RoleGrant.objects.filter(user=user, role=Role.ADMIN.slug)
    return {
        grant.cluster_id
        for grant in grants.only("cluster_id", "namespaces")
        if not grant.namespaces
    }


def user_can_manage_users(*, user: User) -> bool:
    return admin_cluster_ids(user=user) != set()


def user_manages(*, actor: User, user) -> bool:
    """Whether `actor` may deactivate `user`, issue them a password link, see their tokens."""
    clusters = admin_cluster_ids(user=actor)
    if clusters is None:
        return True
    if not clusters or user.is_superuser:
        return False
    held = set(RoleGrant.objects.filter(user=user).values_list("cluster_id", flat=True))
    return held <= clusters


def user_list(*, actor: User) -> QuerySet:
    """Every user, with the grants `actor` may see prefetched as `visible_grants`."""
    clusters = admin_cluster_ids(user=actor)
    grants = RoleGrant.objects.select_related("cluster").order_by("cluster__name")
    if clusters is not None:
        grants = grants.filter(cluster_id__in=clusters)
    return (
        get_user_model()
        .objects.order_by("username")
        .prefetch_related(Prefetch("role_grants", queryset=grants, to_attr="visible_grants"))
    )


def user_get(*, actor: User, username: str):
    user = user_list(actor=actor).filter(username=username).first()
    if user is None:
        raise Http404(f"No user named {username!r}.")
    return user


# --- API tokens -------------------------------------------------------------------------------


def api_token_list(*, user) -> QuerySet[ApiToken]:
    """`user`'s tokens, newest first (the caller has checked who may see them)."""
    return ApiToken.objects.filter(user=user).select_related("user")


def api_token_get(*, actor: User, token_id: int) -> ApiToken:
    """A token its owner, or someone who manages its owner, may see; otherwise 404."""
    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None or not (
        token.user_id == getattr(actor, "pk", None) or user_manages(actor=actor, user=token.user)
    ):
        raise Http404("No such API token.")
    return token
