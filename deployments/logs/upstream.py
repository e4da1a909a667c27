"""Upstream follow streams: one per (cluster, namespace, pod, container) across every web
process, shared by all of its viewers through the channel layer.

Each web process runs one `Hub`: an event loop in a thread of its own, so streams outlive
any one consumer's loop. A viewer joining a stream adds itself to the stream's viewer set in
Redis and starts (or keeps) the process's `Tracker` of that stream; every HEARTBEAT seconds
the tracker refreshes its viewers and either renews its lease or tries to take it. Only the
lease holder runs the `Follower`, so two daphne processes never both follow; if the holder
dies its lease expires and a process with viewers takes over, resuming from the timestamp
the dead one stored. When no viewer is left for LOGS_LINGER_SECONDS the follower stops and
the lease is released.

The follower always asks for timestamps, keeps the last LOGS_BUFFER_LINES lines in Redis
(store.py), numbers every line with a cursor and sends batches of lines (one message per
LOGS_BATCH_SECONDS at most) to the stream's group. A stream the API server ends is reopened
from the last timestamp (sinceTime is whole seconds, so lines already sent at or before that
instant are skipped); a restarted container is followed into its new instance; a deleted pod
ends the stream and its lines stay kept. Above LOGS_MAX_LINES_PER_SECOND lines are kept in
Redis but not sent, and viewers are told how many were dropped.

The follower itself is in follower.py; this module is the hub and the per-stream trackers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from channels.layers import channel_layers
from django.conf import settings
from redis.exceptions import RedisError

from .follower import Follower
from .store import StreamRef, decode_meta

log = logging.getLogger(__name__)

HEARTBEAT = 2.0
LEASE_SECONDS = 10.0
VIEWER_TTL = 10.0

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Tracker:
    """One stream as seen by one process: its local viewers, its lease, maybe its follower."""

    def __init__(self, hub: Hub, stream: StreamRef):
        self.hub = hub
        self.stream = stream
        self.viewers: set[str] = set()
        self.holds_lease = False
        self.follower: Follower | None = None
        self.follower_task: asyncio.Task | None = None
        self.idle_since: float | None = None
        self.task: asyncio.Task | None = None
        self.follower_failed = False

    async def tick(self) -> bool:
        """One heartbeat; False once this process has nothing left to do for the stream."""
        r = self.hub.redis
        now = time.time()
        key = self.stream.key("viewers")
        async with r.pipeline(transaction=True) as tx:
            if self.viewers:
                tx.zadd(key, dict.fromkeys(self.viewers, now))
            tx.zremrangebyscore(key, "-inf", now - VIEWER_TTL)
            tx.zcard(key)
            tx.expire(key, int(VIEWER_TTL * 3))
            results = await tx.execute()
        count = results[-2]
        loop_now = time.monotonic()
        if count:
            self.idle_since = None
        elif self.idle_since is None:
            self.idle_since = loop_now
        lingered = self.idle_since is not None and (
            loop_now - self.idle_since >= settings.LOGS_LINGER_SECONDS
        )
        lease = self.stream.key("lease")
        if self.holds_lease:
            renewed = await r.eval(_RENEW, 1, lease, self.hub.owner, int(LEASE_SECONDS * 1000))
            if lingered or not renewed:
                await self._stop_following()
                await r.eval(_RELEASE, 1, lease, self.hub.owner)
                self.holds_lease = False
            elif self.follower_failed:
                # An outage (Redis, the database) ended it: start again from the stored
                # position. A follower that ended normally (the pod went) keeps its lease
                # until the viewers leave, so nobody starts another one for it.
                self._start_following()
        elif (
            count
            and not lingered
            and await r.set(lease, self.hub.owner, nx=True, px=int(LEASE_SECONDS * 1000))
        ):
            self.holds_lease = True
            self._start_following()
        return bool(self.viewers) or self.holds_lease

    def _start_following(self) -> None:
        self.follower_failed = False
        self.follower = Follower(self.hub, self.stream)
        self.hub.follows_started += 1
        self.follower_task = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        try:
            await self.follower.run()
        except Exception:
            # A bug or an outage must not end the process's loop; the next heartbeat starts
            # the follower again.
            log.exception("log follower for %s failed", self.stream.describe())
            self.follower_failed = True

    async def _stop_following(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        if self.follower_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.follower_task), timeout=5)
            except TimeoutError:
                self.follower_task.cancel()
        self.follower = None
        self.follower_task = None

    async def run(self) -> None:
        try:
            while True:
                try:
                    if not await self.tick():
                        break
                except RedisError as exc:
                    # Redis restarting: keep the viewers; the lease is taken again after it.
                    log.warning("log stream %s: Redis: %s", self.stream.describe(), exc)
                await asyncio.sleep(HEARTBEAT)
        except Exception:
            log.exception("log stream tracker for %s failed", self.stream.describe())
            await self._stop_following()
        finally:
            if self.hub.trackers.get(self.stream) is self:
                del self.hub.trackers[self.stream]


class Hub:
    """The process's log streams: an event loop in a thread of its own."""

    _instance: Hub | None = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> Hub:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.trackers: dict[StreamRef, Tracker] = {}
        self.follows_started = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="logs-hub", daemon=True)
        self.thread.start()
        self.layer = channel_layers.make_backend("default")
        self.redis = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=10
        )

    async def call(self, coro: Awaitable):
        """Run `coro` on the hub's loop from any other loop, and wait for it."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def publish(self, group: str, payload: dict) -> None:
        await self.layer.group_send(group, {"type": "stream.message", "payload": payload})

    async def send_to(self, channel: str, payload: dict) -> None:
        await self.layer.send(channel, {"type": "stream.message", "payload": payload})

    async def viewer_join(self, stream: StreamRef, viewer: str) -> None:
        tracker = self.trackers.get(stream)
        if tracker is None or tracker.task is None or tracker.task.done():
            tracker = Tracker(self, stream)
            self.trackers[stream] = tracker
            tracker.viewers.add(viewer)
            await tracker.tick()
            tracker.task = self.loop.create_task(tracker.run())
        else:
            tracker.viewers.add(viewer)
            await tracker.tick()

    async def viewer_leave(self, stream: StreamRef, viewer: str) -> None:
        tracker = self.trackers.get(stream)
        if tracker is not None:
            tracker.viewers.discard(viewer)
        await self.redis.zrem(stream.key("viewers"), viewer)

    async def meta(self, stream: StreamRef) -> dict:
        return decode_meta(await self.redis.hgetall(stream.key("meta")))

    async def wait_primed(self, stream: StreamRef, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            meta = await self.meta(stream)
            if meta.get("primed") == "1" or time.monotonic() >= deadline:
                return meta
            await asyncio.sleep(0.05)

    async def lines(self, stream: StreamRef) -> list[list]:
        return [json.loads(item) for item in await self.redis.zrange(stream.key("lines"), 0, -1)]

    def spawn(self, factory: Callable[[], Awaitable]) -> asyncio.Future:
        return asyncio.run_coroutine_threadsafe(factory(), self.loop)
