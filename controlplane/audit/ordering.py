"""Ordering of absolute-state actions: the last accepted request for one state decides it.

Two requests to scale one deployment (to 10, then to 20) can reach workers in either order:
a redelivered task, a retry after an outage, or two worker processes. The worker applies an
action only while holding the state's lock and only if no newer request for the same state
was accepted; otherwise the action is recorded as superseded. Holding the lock across the
check and the write closes the window in which an older write could land after a newer one.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager

import redis
from django.conf import settings

from .models import UNACCEPTED_STATUSES, AuditEvent

log = logging.getLogger(__name__)
_client: redis.Redis | None = None


class StateBusy(Exception):
    """Another worker holds the state's lock for longer than we wait; retry the action."""


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5
        )
    return _client


@contextmanager
def state_lock(state_key: str):
    """Hold the lock of one absolute state (in Redis, under this checkout's prefix)."""
    digest = hashlib.sha256(state_key.encode()).hexdigest()
    lock = _redis().lock(
        f"{settings.REDIS_PREFIX}:action-state:{digest}",
        # Expires on its own if the holder dies; longer than an action may run.
        timeout=settings.CELERY_TASK_TIME_LIMIT + 10,
        blocking_timeout=settings.ACTION_STATE_LOCK_WAIT,
    )
    if not lock.acquire():
        raise StateBusy(f"another action on {state_key} is still being applied")
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            # It expired while the action ran (longer than the task limit allows); the write
            # is done, so there is nothing to undo, but it should never happen.
            log.warning("the lock of %s expired before the action finished", state_key)


def superseded_by(event: AuditEvent) -> AuditEvent | None:
    """The newest request for the same state accepted after `event`, if any."""
    if not event.state_key:
        return None
    return (
        AuditEvent.objects.filter(state_key=event.state_key, created__gt=event.created)
        .exclude(status__in=UNACCEPTED_STATUSES)
        .order_by("-created")
        .first()
    )
