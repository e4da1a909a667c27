"""Writes of the action pipeline: submit, refuse, start, finish; every change is broadcast.

The status of an action only moves forward (pending -> running -> succeeded/failed), and
every transition is a conditional UPDATE, so a task that runs twice (a worker died after
doing the work but before acknowledging it) completes the action exactly once.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from controlplane.accounts.selectors import user_can
from controlplane.live.broadcast import broadcast, group_name
from controlplane.request_id import current_request_id

from .models import OPEN_STATUSES, ActionStatus, AuditEvent
from .redaction import redact_parameters
from .serialization import action_serialize

if TYPE_CHECKING:
    from collections.abc import Iterable

    from celery import Task

    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

log = logging.getLogger(__name__)


def _broadcast_after_commit(event: AuditEvent) -> None:
    if not event.cluster_name:
        return
    group = group_name("actions", event.cluster_name)
    message = {"type": "action.update", "action": action_serialize(event)}

    def send():
        try:
            broadcast(group=group, message=message)
        except Exception:
            # The record is committed; a page that missed the push reloads it over HTTP.
            log.exception("could not broadcast action %s to %s", event.id, group)

    transaction.on_commit(send)


def _create(
    *, actor, cluster, namespace, kind, name, verb, parameters, request_id, **fields
) -> AuditEvent:
    event = AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", "") or "",
        cluster=cluster,
        cluster_name=cluster.name if cluster is not None else "",
        namespace=namespace or "",
        kind=kind,
        name=name or "",
        verb=verb,
        parameters=redact_parameters(parameters or {}),
        request_id=request_id or current_request_id() or "",
        **fields,
    )
    _broadcast_after_commit(event)
    return event


def _lacks(actor, permission: str) -> str:
    return f"{getattr(actor, 'username', 'anonymous')} lacks the {permission!r} permission"


def action_record(
    *,
    actor: User | None,  # None: the system acted (e.g. registering the sandbox)
    cluster: Cluster | None,
    namespace: str = "",
    kind: str,
    name: str = "",
    verb: str,
    parameters: dict | None = None,
    status: str,
    error: str = "",
    result: dict | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Record an action that was decided at once (done synchronously, refused or invalid)."""
    now = timezone.now()
    finished = now if status not in OPEN_STATUSES else None
    return _create(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        kind=kind,
        name=name,
        verb=verb,
        parameters=parameters,
        request_id=request_id,
        status=status,
        error=error,
        result=result or {},
        started=now if status == ActionStatus.SUCCEEDED else None,
        finished=finished,
    )


def action_refuse(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str | None,
    kind: str,
    name: str,
    verb: str,
    permission: str,
    parameters: dict | None,
    request_id: str | None = None,
) -> PermissionDenied:
    """Record a refused action; returns the PermissionDenied for the caller to raise."""
    message = _lacks(actor, permission)
    where = f" on cluster {cluster.name}" + (f" namespace {namespace}" if namespace else "")
    action_record(
        actor=actor,
        cluster=cluster,
        namespace=namespace or "",
        kind=kind,
        name=name,
        verb=verb,
        parameters=parameters,
        status=ActionStatus.REFUSED,
        error=message + where,
        request_id=request_id,
    )
    return PermissionDenied(f"You do not have the {permission!r} permission{where}.")


def describe_invalid(exc: Exception) -> str:
    """A refused input as one line naming each field: "replicas: Ensure this value ..."."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items())
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


@contextmanager
def audit_invalid(
    *,
    actor: User,
    cluster: Cluster | None,
    namespace: str | None = "",
    kind: str,
    name: str = "",
    verb: str,
    parameters: dict | None = None,
    request_id: str | None = None,
):
    """Record a mutation refused for bad input (ValidationError, or a ValueError such as a
    refused kubeconfig) as a failed action, then let the error propagate to the caller."""
    try:
        yield
    except (ValidationError, ValueError) as exc:
        action_record(
            actor=actor,
            cluster=cluster,
            namespace=namespace,
            kind=kind,
            name=name,
            verb=verb,
            parameters=parameters,
            status=ActionStatus.FAILED,
            error=f"invalid request: {describe_invalid(exc)}",
            request_id=request_id,
        )
        raise


def refusal_record(
    *,
    actor: User,
    cluster: Cluster | None,
    namespace: str | None,
    kind: str,
    name: str,
    verb: str,
    permission: str,
    request_id: str | None = None,
) -> AuditEvent:
    """Record a refused read or subscription (no exception): status "refused"."""
    message = _lacks(actor, permission)
    return action_record(
        actor=actor,
        cluster=cluster,
        namespace=namespace or "",
        kind=kind,
        name=name or "",
        verb=verb,
        parameters={"permission": permission},
        status=ActionStatus.REFUSED,
        error=message,
        request_id=request_id,
    )


def action_check(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str | None,
    kind: str,
    name: str,
    verb: str,
    permission: str,
    parameters: dict | None,
    request_id: str | None = None,
) -> None:
    """Raise PermissionDenied (and audit the refusal) unless the actor holds `permission`."""
    if not user_can(user=actor, permission=permission, cluster=cluster, namespace=namespace):
        raise action_refuse(
            actor=actor,
            cluster=cluster,
            namespace=namespace,
            kind=kind,
            name=name,
            verb=verb,
            permission=permission,
            parameters=parameters,
            request_id=request_id,
        )


def action_submit(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str | None,
    kind: str,
    name: str,
    verb: str,
    permission: str,
    parameters: dict,
    task: Task,
    request_id: str | None = None,
) -> AuditEvent:
    """Check the role, write the pending action and enqueue `task(event_id)` after commit."""
    action_check(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        kind=kind,
        name=name,
        verb=verb,
        permission=permission,
        parameters=parameters,
        request_id=request_id,
    )
    with transaction.atomic():
        event = _create(
            actor=actor,
            cluster=cluster,
            namespace=namespace,
            kind=kind,
            name=name,
            verb=verb,
            parameters=parameters,
            request_id=request_id,
            status=ActionStatus.PENDING,
        )
        event_id = str(event.id)

        def enqueue():
            try:
                task.apply_async(args=[event_id])
            except Exception as exc:
                # Without a queued task the action would stay pending forever: say why.
                log.exception("could not enqueue action %s", event_id)
                action_finish(
                    event_id=event_id,
                    status=ActionStatus.FAILED,
                    error=f"could not queue the action: {exc.__class__.__name__}: {exc}",
                    from_statuses=OPEN_STATUSES,
                )

        transaction.on_commit(enqueue)
    return event


def action_start(*, event_id: str) -> AuditEvent | None:
    """Mark an open action running (again, after a lost worker); None if already finished."""
    now = timezone.now()
    with transaction.atomic():
        updated = AuditEvent.objects.filter(id=event_id, status__in=OPEN_STATUSES).update(
            status=ActionStatus.RUNNING,
            started=Coalesce(F("started"), Value(now, output_field=DateTimeField())),
            attempts=F("attempts") + 1,
        )
        if not updated:
            status = AuditEvent.objects.filter(id=event_id).values_list("status", flat=True)
            log.warning(
                "action %s not started: %s",
                event_id,
                f"already {status[0]}" if status else "no such action",
            )
            return None
        event = AuditEvent.objects.get(id=event_id)
        _broadcast_after_commit(event)
    return event


def action_finish(
    *,
    event_id: str,
    status: str,
    error: str = "",
    result: dict | None = None,
    from_statuses: Iterable[str] = (ActionStatus.RUNNING,),
) -> bool:
    """Complete an action once: False (and nothing changes) if it was already completed."""
    if status not in (ActionStatus.SUCCEEDED, ActionStatus.FAILED):
        raise ValueError(f"an action finishes as succeeded or failed, not {status!r}")
    with transaction.atomic():
        updated = AuditEvent.objects.filter(id=event_id, status__in=from_statuses).update(
            status=status, error=error, result=result or {}, finished=timezone.now()
        )
        if not updated:
            log.warning("action %s was already completed; not completing it again", event_id)
            return False
        event = AuditEvent.objects.get(id=event_id)
        _broadcast_after_commit(event)
    log.info("action %s %s%s", event_id, status, f": {error}" if error else "")
    return True
