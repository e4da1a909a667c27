"""Celery plumbing shared by every action task: load by id, run once, record the outcome.

A task made with `action_task` is acknowledged only after it finishes (acks_late) and is
re-queued if its worker dies (reject_on_worker_lost), so the work itself must be idempotent
(e.g. scale sets an absolute count). Completion is guarded by a conditional update, so an
action is recorded as done exactly once even when its task runs twice.
"""

import logging
import time
from collections.abc import Callable

import redis
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from controlplane.kube.errors import Invalid, KubeError, Unavailable

from .models import ActionStatus, AuditEvent
from .ordering import StateBusy, state_lock, superseded_by
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


_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _describe(exc: Exception) -> str:
    return describe_error(exc) if isinstance(exc, KubeError) else f"{type(exc).__name__}: {exc}"


def _retry_countdown(retries: int) -> float:
    # Celery's own exponential back-off with full jitter, as autoretry_for would use.
    return get_exponential_backoff_interval(
        factor=1, retries=retries + 1, maximum=settings.ACTION_RETRY_BACKOFF_MAX, full_jitter=True
    )


_SUPERSEDED = object()


def _perform_in_order(event: AuditEvent, perform: Callable[[AuditEvent], dict]):
    """Run `perform` unless a newer request for the same state was accepted (_SUPERSEDED)."""
    if not event.state_key:
        return perform(event)
    with state_lock(event.state_key):
        newer = superseded_by(event)
        if newer is not None:
            action_finish(
                event_id=str(event.id),
                status=ActionStatus.SUPERSEDED,
                error=(
                    f"not applied: the newer request {newer.id} ({newer.actor_label}, "
                    f"{newer.created.isoformat()}) for the same {event.kind} decides its state"
                ),
                result={"superseded_by": str(newer.id)},
            )
            return _SUPERSEDED
        return perform(event)


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
        result = _perform_in_order(event, perform)
        if result is _SUPERSEDED:
            return ActionStatus.SUPERSEDED
    except StateBusy as exc:
        countdown = _retry_countdown(task.request.retries)
        log.info("action %s: %s; retrying in %.1fs", event_id, exc, countdown)
        raise task.retry(exc=exc, countdown=countdown, max_retries=None) from exc
    except (Unavailable, *_REDIS_DOWN) as exc:
        # The cluster, or Redis holding the state locks, is unreachable: worth another try.
        if task.request.retries < task.max_retries:
            countdown = _retry_countdown(task.request.retries)
            log.warning("action %s: %s; retrying in %.1fs", event_id, exc, countdown)
            raise task.retry(exc=exc, countdown=countdown) from exc
        action_finish(
            event_id=event_id,
            status=ActionStatus.FAILED,
            error=f"{_describe(exc)} (gave up after {task.request.retries + 1} attempts)",
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
