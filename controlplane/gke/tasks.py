"""Celery tasks of the GKE app: each loads its action by id and follows its operation.

GKE actions belong to no registered cluster, so they run through this small runner rather
than controlplane.audit.pipeline.run_action (which fails an action whose cluster is gone);
the transitions are the same services (action_start, action_finish), and a follower that
outlives one slice re-queues itself instead of holding a worker for the whole operation.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from controlplane.audit.models import ActionStatus, AuditEvent
from controlplane.audit.services import action_finish, action_start
from controlplane.kube.errors import KubeError

from .errors import GkeError, GkeUnavailable
from .live import gke_action_broadcast
from .operations import FollowLater, operation_follow

log = logging.getLogger(__name__)

# How long an action keeps trying while Google cannot be reached.
UNAVAILABLE_GIVE_UP_SECONDS = 900


def _finish(event_id: str, status: str, *, error: str = "", result: dict | None = None) -> str:
    action_finish(event_id=event_id, status=status, error=error, result=result or {})
    event = AuditEvent.objects.filter(id=event_id).first()
    if event is not None:
        gke_action_broadcast(event=event)
    return status


def run_gke_action(task, event_id: str) -> str:
    if (
        task.request.retries
        and AuditEvent.objects.filter(id=event_id, status=ActionStatus.RUNNING).exists()
    ):
        # The next slice of a long operation: already started, not a new attempt.
        event = AuditEvent.objects.get(id=event_id)
    else:
        event = action_start(event_id=event_id)
        if event is None:
            return "skipped"
        gke_action_broadcast(event=event)
    try:
        result = operation_follow(event)
    except FollowLater as exc:
        raise task.retry(exc=exc, countdown=settings.GKE_POLL_SECONDS, max_retries=None) from exc
    except GkeUnavailable as exc:
        # Google out of reach does not stop its operation: keep asking for a while. Retries
        # also count the follower's slices, so the give-up is by age, not by count.
        age = (timezone.now() - event.created).total_seconds()
        if age < UNAVAILABLE_GIVE_UP_SECONDS:
            countdown = min(30, 2 ** min(task.request.retries, 5))
            raise task.retry(exc=exc, countdown=countdown, max_retries=None) from exc
        return _finish(event_id, ActionStatus.FAILED, error=f"{exc} (gave up after {age:.0f} s)")
    except GkeError as exc:
        return _finish(
            event_id,
            ActionStatus.FAILED,
            error=exc.message if exc.status == "OPERATION_FAILED" else str(exc),
        )
    except KubeError as exc:
        return _finish(event_id, ActionStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
    except SoftTimeLimitExceeded:
        return _finish(
            event_id,
            ActionStatus.FAILED,
            error=f"timed out after {settings.CELERY_TASK_SOFT_TIME_LIMIT}s",
        )
    except Exception as exc:
        log.exception("GKE action %s failed with an unexpected error", event_id)
        return _finish(
            event_id, ActionStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}"
        )
    return _finish(event_id, ActionStatus.SUCCEEDED, result=result)


def _gke_task(name: str):
    @shared_task(
        bind=True,
        name=f"controlplane.gke.tasks.{name}",
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=None,
        time_limit=settings.CELERY_TASK_TIME_LIMIT,
        soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    )
    def task(self, event_id: str) -> str:
        return run_gke_action(self, event_id)

    return task


# One task name per kind of change, so the audit's `task` column says what runs.
gke_cluster_create_task = _gke_task("gke_cluster_create_task")
gke_cluster_delete_task = _gke_task("gke_cluster_delete_task")
gke_nodepool_create_task = _gke_task("gke_nodepool_create_task")
gke_nodepool_resize_task = _gke_task("gke_nodepool_resize_task")
gke_nodepool_autoscale_task = _gke_task("gke_nodepool_autoscale_task")
gke_nodepool_delete_task = _gke_task("gke_nodepool_delete_task")
