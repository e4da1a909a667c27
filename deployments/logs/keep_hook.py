"""The watcher's pod hook that decides when a pod's lines must be kept (keep.py reads them).

It runs inside the watch loop for every pods event, so it only looks at the object: for each
container instance that has just ended or is about to go, one mark per (pod uid, container,
instance, why). A mark is enqueued once: first against a bounded memory of this process, then
with SET NX (expiring after the retention period) in Redis, which also holds across watcher
restarts. Enqueues are paced (ENQUEUE_PER_SECOND, later ones delayed by a countdown), and past
ENQUEUE_MAX_DELAY of backlog they are dropped, counted and logged: a rollout of 30,000 pods
must not bury the workers under reads of pods that are already gone.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import threading
import time

from django.conf import settings

from controlplane import celery_app
from controlplane.live.hooks import pod_hook_register

from .store import _redis

log = logging.getLogger(__name__)

TASK_NAME = "deployments.logs.pod_log_keep"
ENQUEUE_PER_SECOND = 50.0
ENQUEUE_MAX_DELAY = 120.0
MEMORY = 50_000  # marks remembered in-process before Redis is asked


class Pacer:
    """Spreads enqueues at `rate` a second: each gets the next free slot, as a countdown."""

    def __init__(self, rate: float, max_delay: float):
        self.rate = rate
        self.max_delay = max_delay
        self._next = 0.0
        self._lock = threading.Lock()

    def slot(self) -> float | None:
        """Seconds to wait before this enqueue runs, or None when the backlog is too long."""
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            if at - now > self.max_delay:
                return None
            self._next = at + 1.0 / self.rate
            return at - now


_pacer = Pacer(ENQUEUE_PER_SECOND, ENQUEUE_MAX_DELAY)
_seen: collections.OrderedDict[str, None] = collections.OrderedDict()
_dropped = {"count": 0, "logged_at": 0.0}
_lock = threading.Lock()


def pod_marks(event_type: str, pod: dict) -> list[dict]:
    """What to keep of a pod after this event: one entry per container instance."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if not meta.get("uid"):
        return []
    gone = event_type == "DELETED"
    deleting = bool(meta.get("deletionTimestamp"))
    finished = status.get("phase") in ("Succeeded", "Failed")
    marks = []
    statuses = [(cs, False) for cs in status.get("containerStatuses") or []]
    statuses += [(cs, True) for cs in status.get("initContainerStatuses") or []]
    for cs, init in statuses:
        name = cs.get("name")
        if not name:
            continue
        count = int(cs.get("restartCount") or 0)
        if count > 0 and not gone:
            # Instance count-1 ended; its log is readable until the next restart.
            marks.append({"container": name, "mark": f"prev-{count - 1}", "previous": True})
        terminated = "terminated" in (cs.get("state") or {})
        if gone:
            marks.append({"container": name, "mark": "gone", "gone": True})
        elif terminated and (deleting or not init):
            # Read again once it has stopped (a deleting pod's last words come after the
            # first read); a completed init container stays readable until the pod goes.
            marks.append({"container": name, "mark": f"end-{count}", "why": "ended"})
        elif deleting:
            marks.append({"container": name, "mark": f"del-{count}"})
        elif finished and not init:
            marks.append({"container": name, "mark": f"end-{count}"})
    why = "pod deleted" if gone else "pod deleting" if deleting else "ended"
    for m in marks:
        m.setdefault("previous", False)
        m.setdefault("gone", False)
        m.setdefault("why", "container restarted" if m["previous"] else why)
    return marks


def _mark_key(cluster: str, uid: str, container: str, mark: str) -> str:
    digest = hashlib.sha256("\x00".join((cluster, uid, container, mark)).encode()).hexdigest()
    return f"{settings.REDIS_PREFIX}:logs-keep:{digest}"


def _remembered(key: str) -> bool:
    with _lock:
        if key in _seen:
            _seen.move_to_end(key)
            return True
        _seen[key] = None
        if len(_seen) > MEMORY:
            _seen.popitem(last=False)
        return False


def _note_dropped(pod: dict) -> None:
    with _lock:
        _dropped["count"] += 1
        now = time.monotonic()
        if now - _dropped["logged_at"] < 10:
            return
        count, _dropped["count"], _dropped["logged_at"] = _dropped["count"], 0, now
    meta = pod.get("metadata") or {}
    log.warning(
        "kept logs: over %.0f reads a second for %.0f s: %d not enqueued (last: %s/%s)",
        ENQUEUE_PER_SECOND,
        ENQUEUE_MAX_DELAY,
        count,
        meta.get("namespace"),
        meta.get("name"),
    )


def pod_event(cluster: str, event_type: str, pod: dict) -> None:
    marks = pod_marks(event_type, pod)
    if not marks:
        return
    meta = pod["metadata"]
    for m in marks:
        key = _mark_key(cluster, meta["uid"], m["container"], m["mark"])
        if _remembered(key):
            continue
        if not _redis().set(key, "1", nx=True, ex=settings.LOGS_RETENTION_SECONDS):
            continue  # enqueued before (another watcher, or before a restart of this one)
        countdown = _pacer.slot()
        if countdown is None:
            _note_dropped(pod)
            continue
        try:
            celery_app.send_task(
                TASK_NAME,
                kwargs={
                    "cluster": cluster,
                    "namespace": meta.get("namespace") or "",
                    "pod": meta.get("name") or "",
                    "uid": meta["uid"],
                    "container": m["container"],
                    "previous": m["previous"],
                    "gone": m["gone"],
                    "why": m["why"],
                },
                countdown=countdown if countdown > 0.01 else None,
                retry=True,
                retry_policy=settings.ACTION_ENQUEUE_RETRY_POLICY,
            )
        except Exception:
            # The broker is down: forget the mark, so the pod's next event tries again (the
            # hook registry logs and counts the failure).
            _redis().delete(key)
            with _lock:
                _seen.pop(key, None)
            raise


def register() -> None:
    from . import keep  # noqa: F401 (registers the task with Celery)

    pod_hook_register(pod_event)
