"""The `gke-actions` kind of the live websocket: a GKE page subscribes with its project and
gets every change of that project's GKE actions (status and operation progress) as
`action.update` messages, which live.js applies like the per-cluster actions stream.

GKE actions belong to no registered cluster (the cluster may not exist yet), so the
per-cluster actions stream cannot carry them."""

from __future__ import annotations

import logging

from django.db import transaction

from controlplane.audit.models import AuditEvent
from controlplane.audit.serializers import action_serialize
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
    if not getattr(user, "is_superuser", False):
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
