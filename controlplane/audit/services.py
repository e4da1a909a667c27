"""Writes of the action pipeline: submit, refuse, start, finish; every change is broadcast.

The status of an action only moves forward (pending -> running -> succeeded/failed), and
every transition is a conditional UPDATE, so a task that runs twice (a worker died after
doing the work but before acknowledging it) completes the action exactly once.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from celery import current_app
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from controlplane.accounts.selectors import user_can
from controlplane.broadcast import broadcast, group_name
from controlplane.request_id import current_request_id

from .integrity import Transition, entry_append
from .models import OPEN_STATUSES, ActionStatus, AuditEvent
from .redaction import redact_parameters, storable
from .serializers import action_serialize

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
    with transaction.atomic():
        event = AuditEvent.objects.create(
            actor=actor if getattr(actor, "pk", None) else None,
            actor_name=getattr(actor, "username", "") or "",
            cluster=cluster,
            cluster_name=cluster.name if cluster is not None else "",
            namespace=storable(namespace or ""),
            kind=kind,
            name=storable(name or ""),
            verb=verb,
            parameters=redact_parameters(parameters or {}),
            request_id=request_id or current_request_id() or "",
            **storable(fields),
        )
        entry_append(event=event, transition=Transition.CREATED)
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


class ActionNotQueued(Exception):
    """The action was recorded but could not be put on the task queue; it is marked failed.

    Callers answer 503 (with Retry-After) instead of 202: nothing will ever run it.
    """

    def __init__(self, event: AuditEvent, reason: str):
        super().__init__(reason)
        self.event = event
        self.reason = reason


def action_enqueue(*, event_id: str, task_name: str) -> str | None:
    """Put the action's task on the queue; returns the reason when the broker refused it.

    Fails within about a second when Redis is down instead of blocking the request on
    kombu's default reconnection policy.
    """
    options = {"retry": True, "retry_policy": settings.ACTION_ENQUEUE_RETRY_POLICY}
    try:
        task = current_app.tasks.get(task_name)
        if task is not None:
            task.apply_async(args=[event_id], **options)
        else:  # a process that never imported the task module (e.g. the sweep's worker)
            current_app.send_task(task_name, args=[event_id], **options)
    except Exception as exc:
        log.warning("could not enqueue action %s: %s: %s", event_id, type(exc).__name__, exc)
        return f"{type(exc).__name__}: {exc}"
    AuditEvent.objects.filter(id=event_id).update(enqueues=F("enqueues") + 1)
    return None


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
    state_key: str = "",
    request_id: str | None = None,
) -> AuditEvent:
    """Check the role, write the pending action and enqueue `task(event_id)` after commit.

    `state_key` marks an absolute-state action (see AuditEvent.state_key). Raises
    ActionNotQueued when the queue refused the task: the action is then failed, not pending.
    Inside an outer transaction the task is enqueued when that commits, and a refusal is
    recorded on the action (the caller cannot be told any more).
    """
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
    outcome: dict[str, str | None] = {}
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
            task=task.name,
            state_key=state_key,
        )
        event_id = str(event.id)

        def enqueue():
            reason = action_enqueue(event_id=event_id, task_name=task.name)
            outcome["reason"] = reason
            if reason is not None:
                action_finish(
                    event_id=event_id,
                    status=ActionStatus.FAILED,
                    error=f"could not queue the action (the task queue is unavailable): {reason}",
                    from_statuses=OPEN_STATUSES,
                )

        transaction.on_commit(enqueue)
    if outcome.get("reason") is not None:
        event.refresh_from_db()
        raise ActionNotQueued(event, outcome["reason"])
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
        entry_append(event=event, transition=Transition.STARTED)
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
    if status not in (ActionStatus.SUCCEEDED, ActionStatus.FAILED, ActionStatus.SUPERSEDED):
        raise ValueError(f"an action finishes as succeeded, failed or superseded, not {status!r}")
    with transaction.atomic():
        updated = AuditEvent.objects.filter(id=event_id, status__in=from_statuses).update(
            status=status,
            error=storable(error),
            result=storable(result or {}),
            finished=timezone.now(),
        )
        if not updated:
            log.warning("action %s was already completed; not completing it again", event_id)
            return False
        event = AuditEvent.objects.get(id=event_id)
        entry_append(event=event, transition=Transition.FINISHED)
        _broadcast_after_commit(event)
    log.info("action %s %s%s", event_id, status, f": {error}" if error else "")
    return True


def _sweep_one(event: AuditEvent, *, reason: str, requeue: bool) -> str:
    if requeue and event.enqueues < settings.ACTION_MAX_ENQUEUES:
        problem = action_enqueue(event_id=str(event.id), task_name=event.task)
        if problem is None:
            log.warning("action %s re-queued (%s)", event.id, reason)
            return "requeued"
        reason = f"{reason}; queueing it again failed: {problem}"
    action_finish(
        event_id=str(event.id),
        status=ActionStatus.FAILED,
        error=f"{reason} (queued {event.enqueues} times)",
        from_statuses=(event.status,),
    )
    return "failed"


def action_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Find actions that no worker finished in time; queue them again or fail them with why.

    Pending past ACTION_PICKUP_DEADLINE (per time queued): the queue lost them (a Redis
    restart without persistence) or no worker serves this checkout's queue. Running past
    ACTION_RUNNING_DEADLINE: the worker died and the broker did not deliver the task again.
    Only absolute-state actions are queued again: they are ordered and idempotent, so a copy
    that runs beside a message that was merely late does no harm. Any other action is failed
    with the reason instead of risking running it twice.
    """
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0}
    pickup = settings.ACTION_PICKUP_DEADLINE
    running = settings.ACTION_RUNNING_DEADLINE
    candidates = AuditEvent.objects.filter(
        status__in=OPEN_STATUSES, created__lt=now - timedelta(seconds=min(pickup, running))
    ).exclude(task="")
    for event in candidates.order_by("created")[:500]:
        age = (now - event.created).total_seconds()
        if event.status == ActionStatus.PENDING and age > pickup * max(event.enqueues, 1):
            reason = f"no worker took the action within {age:.0f} s"
            outcome = _sweep_one(event, reason=reason, requeue=bool(event.state_key))
        elif event.status == ActionStatus.RUNNING and age > running * max(event.enqueues, 1):
            reason = f"the worker running the action was lost ({age:.0f} s since it was queued)"
            outcome = _sweep_one(event, reason=reason, requeue=bool(event.state_key))
        else:
            continue
        counts[outcome] += 1
    if counts["requeued"] or counts["failed"]:
        log.warning("action sweep: %(requeued)d re-queued, %(failed)d failed", counts)
    return counts
