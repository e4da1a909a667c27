"""Who may subscribe to what on the live websocket; refusals are audited."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.http import Http404

from controlplane.accounts.selectors import user_can, visible_namespaces
from controlplane.audit.services import refusal_record
from controlplane.clusters.selectors import cluster_get
from controlplane.kube.watch import KINDS

if TYPE_CHECKING:
    from controlplane.accounts.types import User

# Per websocket connection. A page of a grant narrowed to namespaces subscribes once per
# (kind, namespace): the overview's eight namespaced kinds over 31 namespaces, plus actions.
MAX_SUBSCRIPTIONS = 256


REFUSAL_AUDIT_WINDOW = 3600


class SubscriptionRefused(Exception):
    pass


def _first_refusal(*, user, cluster: str, kind: str, namespace: str | None) -> bool:
    subject = f"{user.pk}\x00{cluster}\x00{kind}\x00{namespace or ''}"
    key = "live:refused:" + hashlib.sha256(subject.encode()).hexdigest()
    return cache.add(key, 1, timeout=REFUSAL_AUDIT_WINDOW)


def subscription_authorize(
    *, user: User, cluster: str, kind: str, namespace: str | None, audit: bool = True
) -> set[str] | None:
    """Allow or refuse a subscription; returns the namespaces the user may see (None: all).

    A cluster-wide subscription (no namespace, or a cluster-scoped kind) needs a cluster-wide
    grant: a grant narrowed to namespaces would otherwise stream the other namespaces too.
    The actions stream is the exception: it is filtered per message by namespace.
    A refusal is audited once per (user, subscription) and hour, however often it is retried
    (a page reconnecting in a loop would otherwise write a row a second).
    """
    try:
        cluster_obj = cluster_get(name=cluster)
    except Http404:
        raise SubscriptionRefused(f"no cluster named {cluster!r}") from None
    visible = visible_namespaces(user=user, cluster=cluster_obj)
    scoped = kind != "actions" and namespace is not None and KINDS[kind].namespaced
    allowed = user_can(
        user=user, permission="view", cluster=cluster_obj, namespace=namespace if scoped else None
    )
    if allowed and not scoped and kind != "actions" and visible is not None:
        allowed = False
    if not allowed:
        where = f"{kind} in namespace {namespace}" if scoped else f"all {kind}"
        if audit and _first_refusal(user=user, cluster=cluster, kind=kind, namespace=namespace):
            refusal_record(
                actor=user,
                cluster=cluster_obj,
                namespace=namespace if scoped else "",
                kind=kind,
                name="",
                verb="watch",
                permission="view",
            )
        raise SubscriptionRefused(f"you may not view {where} on cluster {cluster}")
    return visible
