"""Who may read pod logs: `view` in the namespace, or `view_logs` (operator and above) where
the cluster's setting keeps logs from viewers. Refusals are audited."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from controlplane.accounts.selectors import user_can
from controlplane.audit.services import refusal_record

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

# A page reconnecting in a loop must not write an audit row per attempt.
REFUSAL_AUDIT_WINDOW = 3600


class LogsRefused(PermissionDenied):
    pass


def logs_permission(*, cluster: Cluster) -> str:
    return "view" if cluster.logs_for_viewers else "view_logs"


def _first_refusal(*, user, cluster: Cluster, namespace: str, name: str) -> bool:
    subject = f"{user.pk}\x00{cluster.pk}\x00{namespace}\x00{name}"
    key = "logs:refused:" + hashlib.sha256(subject.encode()).hexdigest()
    return cache.add(key, 1, timeout=REFUSAL_AUDIT_WINDOW)


def logs_check(
    *,
    user: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    verb: str,
    audit: bool = True,
    once: bool = False,
    request_id: str | None = None,
) -> None:
    """Raise LogsRefused unless `user` may read logs in `namespace`.

    `once`: audit a refusal once per user, target and hour (websocket subscriptions, which
    pages retry); the API audits every refused request.
    """
    permission = logs_permission(cluster=cluster)
    if user_can(user=user, permission=permission, cluster=cluster, namespace=namespace):
        return
    if audit and (
        not once or _first_refusal(user=user, cluster=cluster, namespace=namespace, name=name)
    ):
        refusal_record(
            actor=user,
            cluster=cluster,
            namespace=namespace,
            kind="pods/log",
            name=name,
            verb=verb,
            permission=permission,
            request_id=request_id,
        )
    why = "" if cluster.logs_for_viewers else " (this cluster keeps logs from viewers)"
    raise LogsRefused(
        f"you may not read logs in namespace {namespace} on cluster {cluster.name}{why}"
    )
