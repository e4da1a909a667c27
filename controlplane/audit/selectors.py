"""Reads of the audit log, limited to what the user may see."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet
from django.http import Http404

from controlplane.accounts.models import RoleGrant

from .models import SYSTEM_ACTOR, AuditEvent

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
        return sorted(v for v in events.values_list(field, flat=True).distinct() if v)

    return {
        "actors": distinct("actor_name"),
        "system": events.filter(actor_name="").exists(),
        "clusters": distinct("cluster_name"),
        "namespaces": distinct("namespace"),
        "kinds": distinct("kind"),
        "verbs": distinct("verb"),
    }
