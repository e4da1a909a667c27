"""The `gke-actions` kind of the live websocket: a GKE page subscribes with its project and
gets every change of that project's GKE actions (status and operation progress) as
`action.update` messages, which live.js applies like the per-cluster actions stream.

GKE actions belong to no registered cluster (the cluster may not exist yet), so the
per-cluster actions stream cannot carry them."""

from __future__ import annotations

import hashlib
import logging

from django.core.cache import cache
from django.db import transaction

from controlplane.audit.models import ActionStatus, AuditEvent
from controlplane.audit.serializers import action_serialize
from controlplane.audit.services import action_record
from controlplane.broadcast import broadcast, group_name
from controlplane.live.streams import StreamKind, stream_kind_register
from controlplane.live.subscriptions import SubscriptionRefused

log = logging.getLogger(__name__)

KIND = "gke-actions"


def _parse(request: dict) -> dict:
    project = request.get("cluster")
    if not isinstance(project, str) or not project or len(project) > 30:
        raise ValueError("subscription.cluster: the GKE project id is required")
    return {"cluster": project, "kind": KIND, "namespace": None}


def _authorize(*, user, subscription: dict, audit: bool) -> None:
    if getattr(user, "is_superuser", False):
        return
    project = subscription["cluster"]
    # Audited once per user, project and hour: a page reconnecting in a loop would otherwise
    # write a row a second (as the per-cluster streams do).
    subject = f"{user.pk}\x00{project}"
    key = "gke:live:refused:" + hashlib.sha256(subject.encode()).hexdigest()
    if audit and cache.add(key, 1, timeout=3600):
        action_record(
            actor=user,
            cluster=None,
            kind="gke",
            name=project,
            verb="watch",
            status=ActionStatus.REFUSED,
            error=f"{user.get_username()} is not an admin: only admins manage GKE",
        )
    raise SubscriptionRefused("only admins may follow GKE actions")


def _group(subscription: dict) -> str:
    return group_name(KIND, subscription["cluster"])


def register() -> None:
    stream_kind_register(StreamKind(name=KIND, parse=_parse, authorize=_authorize, group=_group))


def gke_action_broadcast(*, event: AuditEvent) -> None:
    """After commit, tell the project's GKE pages about the action's current state."""
    project = (event.parameters or {}).get("project", "")
    if not project:
        return
    message = {
        "type": "stream.message",
        "payload": {"type": "action.update", "action": action_serialize(event)},
    }

    def send():
        try:
            broadcast(group=group_name(KIND, project), message=message)
        except Exception:
            # Committed already; the page's periodic refresh shows it a few seconds later.
            log.exception("could not broadcast GKE action %s", event.id)

    transaction.on_commit(send)
