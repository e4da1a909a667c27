"""The shape every controller shares: API events -> deduplicated work queue -> reconcile(key).

As in client-go, a key is queued at most once however many events arrive before it is worked
on; a reconcile that fails is retried with back-off; `requeue_after` re-checks a key later
(progress deadlines, minReadySeconds, back-offs); and a slow resync re-queues every key so a
missed edge cannot leave an object stuck forever.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from sandbox.machinery.backoff import backoff
from sandbox.machinery.util import controller_ref, meta_key

log = logging.getLogger(__name__)

# Yield to the event loop after this many reconciles so HTTP requests are never starved.
_BATCH = 50


class Controller(abc.ABC):
    name = "controller"

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.api = cluster.api
        self.config = cluster.config
        self._queue: deque[Hashable] = deque()
        self._queued: set[Hashable] = set()
        self._wakeup = asyncio.Event()
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._failures: dict[Hashable, int] = {}
        self._unsubscribe: list[Callable[[], None]] = []

    # -- wiring -----------------------------------------------------------------------------

    def watch(self, resource: str, handler: Callable[[str, dict, dict | None], None]) -> None:
        self._unsubscribe.append(self.api.subscribe(resource, handler))

    def watch_objects(self, resource: str) -> None:
        """Queue (namespace, name) of every changed object of `resource`."""
        self.watch(resource, lambda event_type, obj, old: self.enqueue(meta_key(obj)))

    def watch_owned(
        self,
        resource: str,
        owner_kind: str,
        *,
        events: tuple[str, ...] = (),
        owner_key: Callable[[tuple[str, str]], Hashable | None] | None = None,
    ) -> None:
        """Queue the controlling owner of every changed `resource` object whose controller is
        an `owner_kind`, as upstream's enqueue-owner handlers do: before and after the change,
        so a dependent that changes hands wakes both owners. `events` limits the event types;
        `owner_key` maps the owner's (namespace, name) to the key to queue (None: none)."""

        def on_change(event_type: str, obj: dict, old: dict | None) -> None:
            if events and event_type not in events:
                return
            for dependent in (obj, old):
                ref = controller_ref(dependent) if dependent else None
                if ref is None or ref.get("kind") != owner_kind:
                    continue
                key: Hashable | None = (dependent["metadata"].get("namespace", ""), ref["name"])
                if owner_key is not None:
                    key = owner_key(key)
                if key is not None:
                    self.enqueue(key)

        self.watch(resource, on_change)

    @abc.abstractmethod
    def setup(self) -> None:
        """Subscribe to the API: call self.watch(...) for each resource that matters."""

    def initial_keys(self) -> Iterable[Hashable]:
        """Every key the controller is responsible for (start-up and resync)."""
        return ()

    @abc.abstractmethod
    def reconcile(self, key: Hashable) -> None:
        """Bring the object named by `key` to its desired state; called once per queued key."""

    def resync_interval(self) -> float:
        return self.config.resync_seconds

    # -- queue ------------------------------------------------------------------------------

    def enqueue(self, key: Hashable) -> None:
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.append(key)
        self._wakeup.set()

    def requeue_after(self, key: Hashable, delay: float) -> None:
        """Queue key after delay; an earlier pending timer for the same key wins."""
        loop = asyncio.get_running_loop()
        when = loop.time() + max(delay, 0.0)
        timer = self._timers.get(key)
        if timer is not None and not timer.cancelled():
            if timer.when() <= when:
                return
            timer.cancel()
        self._timers[key] = loop.call_at(when, self._fire_timer, key)

    def _fire_timer(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.enqueue(key)

    # -- run --------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            for key in self.initial_keys():
                self.enqueue(key)
            resync = asyncio.create_task(self._resync_loop(), name=f"{self.name}-resync")
            try:
                await self._work_loop()
            finally:
                resync.cancel()
        finally:
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            for timer in self._timers.values():
                timer.cancel()

    async def _work_loop(self) -> None:
        done = 0
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            key = self._queue.popleft()
            self._queued.discard(key)
            self._reconcile_safely(key)
            done += 1
            if done % _BATCH == 0:
                await asyncio.sleep(0)

    def _reconcile_safely(self, key: Hashable) -> None:
        try:
            self.reconcile(key)
        except Exception as exc:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            conflict = getattr(exc, "code", None) == 409
            if conflict:
                # Someone wrote in between (a user, another controller): re-read and retry.
                log.debug("%s: conflict reconciling %s, retrying", self.name, key)
            else:
                log.exception("%s: reconciling %s failed (attempt %d)", self.name, key, failures)
            delay = 0.0 if conflict and failures < 5 else backoff(failures, 0.1, 30.0)
            self.requeue_after(key, delay)
        else:
            self._failures.pop(key, None)

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_interval())
            for key in self.initial_keys():
                self.enqueue(key)
