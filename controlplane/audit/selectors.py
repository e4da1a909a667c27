"""Reads of the audit log, limited to what the user may see."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from controlplane.accounts.models import RoleGrant

from .models import SYSTEM_ACTOR, ActionStatus, AuditEvent
from .workers import worker_list

if TYPE_CHECKING:
    from uuid import UUID

    from controlplane.accounts.types import User


def _visible(user) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if user.is_superuser:
        return events
    # A user sees the actions on clusters they hold a role on (within their namespaces when
    # the grant is narrowed), and always their own.
    scope = Q(actor=user)
    for grant in RoleGrant.objects.filter(user=user).only("cluster_id", "namespaces"):
        if grant.namespaces:
            scope |= Q(cluster_id=grant.cluster_id, namespace__in=grant.namespaces)
        else:
            scope |= Q(cluster_id=grant.cluster_id)
    return events.filter(scope)


def audit_list(
    *,
    user: User,
    actor: str | None = None,
    cluster: str | None = None,
    namespace: str | None = None,
    kind: str | None = None,
    verb: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    events = _visible(user)
    if actor:
        events = events.filter(actor_name="" if actor == SYSTEM_ACTOR else actor)
    if cluster:
        events = events.filter(cluster_name=cluster)
    if namespace:
        events = events.filter(namespace=namespace)
    if kind:
        events = events.filter(kind=kind)
    if verb:
        events = events.filter(verb=verb)
    if status:
        events = events.filter(status=status)
    if since:
        events = events.filter(created__gte=since)
    if until:
        events = events.filter(created__lt=until)
    return events.order_by("-created")


def action_get(*, user: User, action_id: str | UUID) -> AuditEvent:
    try:
        return _visible(user).get(id=action_id)
    except (AuditEvent.DoesNotExist, ValueError) as exc:
        raise Http404("No such action") from exc


def audit_filter_choices(*, user: User) -> dict:
    """Distinct values for the filter drop-downs of the audit page."""
    events = _visible(user)

    def distinct(field):
        # order_by(field): Meta.ordering ("-created") would join the DISTINCT and repeat values.
        values = events.order_by(field).values_list(field, flat=True).distinct()
        return sorted(v for v in values if v)

    return {
        "actors": distinct("actor_name"),
        "system": events.filter(actor_name="").exists(),
        "clusters": distinct("cluster_name"),
        "namespaces": distinct("namespace"),
        "kinds": distinct("kind"),
        "verbs": distinct("verb"),
    }


def action_queue_status_get(*, user: User) -> dict:
    """Whether anything is taking actions: live workers, and the user's visible actions that
    no worker has taken past the pickup deadline (oldest first)."""
    try:
        workers, error = worker_list(), ""
    except redis.RedisError as exc:
        workers, error = [], f"Redis unreachable: {exc}"
    deadline = timezone.now() - timedelta(seconds=settings.ACTION_PICKUP_DEADLINE)
    waiting = _visible(user).filter(status=ActionStatus.PENDING, created__lt=deadline)
    return {
        "workers": workers,
        "error": error,
        "waiting": list(waiting.order_by("created")[:20]),
        "waiting_count": waiting.count(),
        "pickup_deadline": settings.ACTION_PICKUP_DEADLINE,
    }
