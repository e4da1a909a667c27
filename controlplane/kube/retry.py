"""The one retry policy for Kubernetes API calls.

Transient failures (429 with Retry-After, 5xx, timeouts, unreachable server) are retried with
capped exponential back-off and jitter. 409 conflicts on updates are handled by re-reading
the object and applying the change again (`update_with_conflict_retry`). Everything else is
raised at once as a typed error.
"""

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from .errors import CLIENT_ERRORS, Conflict, Unavailable, translate

log = logging.getLogger(__name__)
T = TypeVar("T")


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """The one back-off of the Django side: capped exponential with equal jitter.

    For the (0-based) `attempt` the delay lies between half and all of min(cap, base * 2^n):
    the random half keeps many clients from retrying in step, the fixed half keeps a failing
    loop from spinning. Kubernetes calls, watches and the watcher all wait this long; action
    tasks use Celery's own back-off.
    """
    ceiling = min(cap, base * (2**attempt))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def call(fn: Callable[[], T], *, what: str, retry: bool = True) -> T:
    """Run one API call, translating errors; retry transient ones when `retry` (idempotent)."""
    attempts = settings.KUBE_RETRY_ATTEMPTS if retry else 1
    for attempt in range(attempts):
        try:
            return fn()
        except CLIENT_ERRORS as exc:
            error = translate(exc)
            if not isinstance(error, Unavailable) or attempt == attempts - 1:
                raise error from exc
            delay = backoff_delay(
                attempt, base=settings.KUBE_RETRY_BASE_DELAY, cap=settings.KUBE_RETRY_MAX_DELAY
            )
            if error.retry_after is not None:
                delay = min(max(delay, error.retry_after), settings.KUBE_RETRY_MAX_DELAY)
            log.warning(
                "kube call %s failed (%s), retry %d/%d in %.2fs",
                what,
                error,
                attempt + 1,
                attempts - 1,
                delay,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def update_with_conflict_retry(
    *,
    read: Callable[[], dict],
    change: Callable[[dict], dict],
    write: Callable[[dict], T],
    what: str,
) -> T:
    """Read, change, write; on 409 Conflict read the fresh object and apply the change again."""
    attempts = settings.KUBE_CONFLICT_ATTEMPTS
    for attempt in range(attempts):
        current = call(read, what=f"read {what}")
        try:
            return call(lambda current=current: write(change(current)), what=f"write {what}")
        except Conflict:
            if attempt == attempts - 1:
                raise
            log.info("conflict writing %s, re-reading (attempt %d)", what, attempt + 1)
    raise AssertionError("unreachable")  # pragma: no cover


def on_conflict(write: Callable[[], T], *, what: str) -> T:
    """Repeat a write that does not depend on what it read (e.g. an absolute patch) on 409."""
    attempts = settings.KUBE_CONFLICT_ATTEMPTS
    for attempt in range(attempts):
        try:
            return write()
        except Conflict:
            if attempt == attempts - 1:
                raise
            log.info("conflict writing %s, trying again (attempt %d)", what, attempt + 1)
            time.sleep(backoff_delay(attempt, base=0.05, cap=1.0))
    raise AssertionError("unreachable")  # pragma: no cover
