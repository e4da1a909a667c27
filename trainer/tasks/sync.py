"""The periodic sync of active training runs (Celery beat), one at a time across workers."""

import logging

import redis
from celery import shared_task
from django.conf import settings

from controlplane.live.cache import redis_client

from ..sync import trainingrun_sync_active as _sync_active

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
