"""Celery plumbing shared by every action task: load by id, run once, record the outcome.

A task made with `action_task` is acknowledged only after it finishes (acks_late) and is
re-queued if its worker dies (reject_on_worker_lost), so the work itself must be idempotent
(e.g. scale sets an absolute count). Completion is guarded by a conditional update, so an
action is recorded as done exactly once even when its task runs twice.
"""

import logging
import random
import time
from collections.abc import Callable

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from controlplane.kube.errors import Invalid, KubeError, Unavailable

from .models import ActionStatus, AuditEvent
from .services import action_finish, action_start

log = logging.getLogger(__name__)


def describe_error(exc: KubeError) -> str:
    """The exact error as the API server gave it, prefixed with its type."""
    text = f"{exc.__class__.__name__}"
    if exc.status:
        text += f" ({exc.status})"
    text += f": {exc.message}"
    if isinstance(exc, Invalid) and exc.causes:
        causes = "; ".join(f"{c['field']}: {c['message']}" for c in exc.causes)
        text += f" [{causes}]"
    return text


def _retry_countdown(retries: int) -> float:
    cap = settings.ACTION_RETRY_BACKOFF_MAX
    return random.uniform(0.5, min(cap, 2 ** (retries + 1)))


def run_action(task, event_id: str, perform: Callable[[AuditEvent], dict]) -> str:
    event = action_start(event_id=event_id)
    if event is None:
        return "skipped"
    if event.cluster_id is None:
        action_finish(
            event_id=event_id,
            status=ActionStatus.FAILED,
            error=f"the cluster {event.cluster_name!r} was removed before the action ran",
        )
        return ActionStatus.FAILED
    if settings.ACTION_TASK_TEST_DELAY and event.attempts == 1:
        # Test-only hook (DEBUG only): widen the window in which a test kills the worker
        # during the first attempt; the attempt after the crash runs at full speed.
        time.sleep(settings.ACTION_TASK_TEST_DELAY)
    try:
        result = perform(event)
    except Unavailable as exc:
        if task.request.retries < task.max_retries:
            countdown = _retry_countdown(task.request.retries)
            log.warning("action %s: %s; retrying in %.1fs", event_id, exc, countdown)
            raise task.retry(exc=exc, countdown=countdown) from exc
        action_finish(
            event_id=event_id,
            status=ActionStatus.FAILED,
            error=f"{describe_error(exc)} (gave up after {task.request.retries + 1} attempts)",
        )
        return ActionStatus.FAILED
    except KubeError as exc:
        action_finish(event_id=event_id, status=ActionStatus.FAILED, error=describe_error(exc))
        return ActionStatus.FAILED
    except SoftTimeLimitExceeded:
        action_finish(
            event_id=event_id,
            status=ActionStatus.FAILED,
            error=f"timed out after {settings.CELERY_TASK_SOFT_TIME_LIMIT}s",
        )
        return ActionStatus.FAILED
    except Exception as exc:
        log.exception("action %s failed with an unexpected error", event_id)
        action_finish(
            event_id=event_id,
            status=ActionStatus.FAILED,
            error=f"internal error: {exc.__class__.__name__}: {exc}",
        )
        return ActionStatus.FAILED
    action_finish(event_id=event_id, status=ActionStatus.SUCCEEDED, result=result or {})
    return ActionStatus.SUCCEEDED


def action_task(perform: Callable[[AuditEvent], dict]):
    """Turn `perform(event) -> result dict` into the Celery task `<module>.<name>(event_id)`."""
    name = f"{perform.__module__}.{perform.__name__}"

    @shared_task(
        bind=True,
        name=name,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=settings.ACTION_MAX_RETRIES,
        time_limit=settings.CELERY_TASK_TIME_LIMIT,
        soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    )
    def task(self, event_id: str) -> str:
        return run_action(self, event_id, perform)

    task.perform = perform
    return task
