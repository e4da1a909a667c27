"""The periodic syncs of training runs (Celery beat): every unfinished run, one round at a time
across workers; and, on a short interval, the runs whose pods the watcher sees ending."""

import logging

import redis
from celery import shared_task
from django.conf import settings

from controlplane.live.cache import redis_client

from ..sync import trainingrun_sync_active as _sync_active
from ..sync import trainingrun_sync_finishing as _sync_finishing

log = logging.getLogger(__name__)


@shared_task(name="trainer.tasks.sync.trainingrun_sync_active", ignore_result=True)
def trainingrun_sync_active() -> dict:
    # Two beats overlapping (a slow cluster) would read every log twice: the second skips.
    lock = redis_client().lock(
        f"{settings.REDIS_PREFIX}:training-sync", timeout=settings.TRAINING_SYNC_LOCK_SECONDS
    )
    if not lock.acquire(blocking=False):
        return {"skipped": 1}
    try:
        return _sync_active()
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning(
                "the training sync outlived its lock (%ss)", settings.TRAINING_SYNC_LOCK_SECONDS
            )


@shared_task(name="trainer.tasks.sync.trainingrun_sync_finishing", ignore_result=True)
def trainingrun_sync_finishing() -> dict:
    # Reads only the watcher's cache unless a pod is ending; a round still running (a slow
    # cluster) makes the next beat skip rather than pile up.
    lock = redis_client().lock(
        f"{settings.REDIS_PREFIX}:training-sync-finishing",
        timeout=settings.TRAINING_SYNC_LOCK_SECONDS,
    )
    if not lock.acquire(blocking=False):
        return {"skipped": 1}
    try:
        return _sync_finishing()
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning(
                "the finishing sync outlived its lock (%ss)", settings.TRAINING_SYNC_LOCK_SECONDS
            )
