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
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import redis.asyncio as aioredis
from channels.layers import channel_layers
from django.conf import settings
from redis.exceptions import RedisError

from controlplane.clusters.models import Cluster
from controlplane.kube.errors import BadRequest, KubeError, NotFound
from controlplane.kube.logs import LogOptions, parse_timestamp, pod_get, pod_log_open

from .store import StreamRef, cluster_load, decode_meta

log = logging.getLogger(__name__)

HEARTBEAT = 2.0
LEASE_SECONDS = 10.0
VIEWER_TTL = 10.0
# Lines per batch at most (a batch is one channel-layer message).
BATCH_LINES = 2000
END = object()

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


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def container_status(pod: dict, container: str) -> dict:
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == container:
            return cs
    return {}


class Deduper:
    """Skips what a reopened stream sends again: every line before the last timestamp seen,
    and at that very timestamp the texts already sent (sinceTime only has whole seconds)."""

    def __init__(self, last_ts: str = "", last_texts: list[str] | None = None):
        self.last_ts = last_ts
        self.at_last: list[str] = list(last_texts or [])
        self._parsed: tuple[str, int] = ("", -1)
        self.reopened()

    @property
    def last_ns(self) -> int:
        """The last timestamp seen, in nanoseconds (-1: none yet)."""
        if not self.last_ts:
            return -1
        if self._parsed[0] != self.last_ts:
            self._parsed = (self.last_ts, parse_timestamp(self.last_ts))
        return self._parsed[1]

    def reopened(self) -> None:
        self._skip: collections.Counter = collections.Counter(self.at_last)
        self._resume_ns = self.last_ns
        self._past = self._resume_ns < 0

    def accept(self, ts: str, text: str) -> bool:
        if not self._past:
            try:
                ns = parse_timestamp(ts)
            except ValueError:
                return True  # not a timestamped line (should not happen): never lose it
            if ns < self._resume_ns:
                return False
            if ns == self._resume_ns and self._skip[text] > 0:
                self._skip[text] -= 1
                return False
            # Past the resume point every line is new (a stream is in time order), so from
            # here on only strings are compared; timestamps are parsed around reopenings only.
            self._past = ns > self._resume_ns
        if ts == self.last_ts:
            self.at_last.append(text)
        else:
            self.last_ts, self.at_last = ts, [text]
        return True


def split_line(raw: bytes) -> tuple[str, str]:
    text = raw.decode("utf-8", "replace")
    ts, sep, rest = text.partition(" ")
    return (ts, rest) if sep else (ts, "")


class Follower:
    """Reads one container's log upstream for as long as the lease is held."""

    def __init__(self, hub: Hub, stream: StreamRef):
        self.hub = hub
        self.stream = stream
        self.stopping = False
        self._open = None  # the LogStream being read, closed from stop()
        self._sent_window = (0.0, 0)  # (second, lines sent in it)
        self._dropped = 0
        self._dropped_from = 0
        self._note_second = -1
        # Where the stored lines end: a follow reopened (here or by another process) resumes
        # after this timestamp and skips these texts written at it.
        self._written_ts = ""
        self._written_texts: list[str] = []

    def stop(self) -> None:
        self.stopping = True
        current = self._open
        if current is not None:
            current.close()

    async def _meta(self) -> dict:
        return decode_meta(await self.hub.redis.hgetall(self.stream.key("meta")))

    async def _set_meta(self, **fields) -> None:
        r = self.hub.redis
        async with r.pipeline(transaction=True) as tx:
            tx.hset(self.stream.key("meta"), mapping={k: str(v) for k, v in fields.items()})
            self._expire(tx)
            await tx.execute()

    def _expire(self, tx) -> None:
        for part in ("meta", "lines"):
            tx.expire(self.stream.key(part), settings.LOGS_RETENTION_SECONDS)

    async def _status(self, state: str, detail: str = "", **extra) -> None:
        await self._set_meta(state=state, reason=detail, **extra)
        await self.hub.publish(
            self.stream.group,
            {
                "type": "logs.status",
                "stream": self.stream.describe(),
                "state": state,
                "detail": detail,
                "at": _now_iso(),
                **{k: v for k, v in extra.items() if k in ("ended_at", "restarts")},
            },
        )

    async def _keep_within_bytes(self) -> None:
        """What outlives the pod is its last lines up to LOGS_KEPT_BYTES, newest kept."""
        r = self.hub.redis
        raw = await r.zrange(self.stream.key("lines"), 0, -1)
        total = 0
        for index in range(len(raw) - 1, -1, -1):
            total += len(raw[index])
            if total > settings.LOGS_KEPT_BYTES:
                await r.zremrangebyrank(self.stream.key("lines"), 0, index)
                return

    async def _read_pod(self, cluster: Cluster) -> dict | None:
        def read() -> dict | None:
            try:
                return pod_get(
                    cluster.connection(), namespace=self.stream.namespace, name=self.stream.pod
                )
            except NotFound:
                return None

        return await asyncio.to_thread(read)

    async def run(self) -> None:
        try:
            cluster = await asyncio.to_thread(cluster_load, self.stream.cluster)
        except Cluster.DoesNotExist:
            await self._status("error", f"no cluster named {self.stream.cluster}")
            await self._set_meta(primed=1)
            return
        meta = await self._meta()
        self._written_ts = meta.get("last_ts", "")
        self._written_texts = json.loads(meta.get("last_texts") or "[]")
        dedupe = Deduper(self._written_ts, self._written_texts)
        restarts = int(meta["restarts"]) if meta.get("restarts") else None
        failures = 0
        while not self.stopping:
            try:
                pod = await self._read_pod(cluster)
            except KubeError as exc:
                await self._pause_after_error(exc, failures := failures + 1)
                continue
            if pod is None:
                if meta.get("state") != "ended":
                    await self._keep_within_bytes()
                    await self._status("ended", "pod deleted", ended_at=_now_iso())
                await self._set_meta(primed=1)
                return
            cs = container_status(pod, self.stream.container)
            count = int(cs.get("restartCount") or 0)
            if restarts is not None and count > restarts:
                await self._status("restarted", f"container restarted ({count})", restarts=count)
            restarts = count
            state = cs.get("state") or {}
            if "terminated" in state and dedupe.last_ns >= 0 and meta.get("state") == "terminated":
                # Nothing new can come until it restarts or goes: look again shortly.
                await self._set_meta(primed=1)
                await asyncio.sleep(HEARTBEAT * 2)
                continue
            options = LogOptions(
                container=self.stream.container,
                follow=True,
                timestamps=True,
                tail_lines=settings.LOGS_BUFFER_LINES,
                since_time=(
                    datetime.fromtimestamp(dedupe.last_ns / 1e9, UTC)
                    if dedupe.last_ns >= 0
                    else None
                ),
            )
            dedupe.reopened()
            try:
                await self._follow_once(cluster, options, dedupe)
                failures = 0
            except BadRequest as exc:
                # Waiting to start (ContainerCreating, image pulls): not an error to report.
                await self._set_meta(primed=1, state="waiting", reason=str(exc))
                await asyncio.sleep(HEARTBEAT / 2)
                continue
            except KubeError as exc:
                await self._pause_after_error(exc, failures := failures + 1)
                continue
            if self.stopping:
                break
            if "terminated" in state:
                await self._status("terminated", "container terminated", restarts=count)
                meta["state"] = "terminated"
            else:
                meta["state"] = "following"
        await self._flush_dropped(force=True)

    async def _pause_after_error(self, exc: KubeError, failures: int) -> None:
        log.warning("log stream %s: %s", self.stream.describe(), exc)
        await self._set_meta(primed=1, state="error", reason=str(exc))
        await asyncio.sleep(min(HEARTBEAT * failures, 15.0))

    async def _follow_once(self, cluster: Cluster, options: LogOptions, dedupe: Deduper) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        conn = cluster.connection()
        stream = await asyncio.to_thread(
            pod_log_open,
            conn,
            namespace=self.stream.namespace,
            pod=self.stream.pod,
            options=options,
            read_timeout=settings.LOGS_FOLLOW_READ_TIMEOUT,
        )
        self._open = stream
        if self.stopping:
            stream.close()
        meta = await self._meta()
        if meta.get("state") != "following":
            await self._set_meta(state="following", reason="")

        def read() -> None:
            try:
                for chunk_lines in _chunked_lines(stream):
                    fresh = []
                    for raw in chunk_lines:
                        ts, text = split_line(raw)
                        if dedupe.accept(ts, text):
                            fresh.append([ts, text])
                    if fresh:
                        loop.call_soon_threadsafe(queue.put_nowait, fresh)
            except KubeError as exc:
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, END)

        reader = threading.Thread(target=read, name="logs-follow", daemon=True)
        reader.start()
        primed = meta.get("primed") == "1"
        error: KubeError | None = None
        try:
            while True:
                batch: list = []
                item = None
                # The first fill is cut off by a quiet moment rather than waited on; a note
                # about dropped lines goes out once the flood has paused for a second.
                wait = 0.3 if not primed else (1.0 if self._dropped else None)
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=wait)
                except TimeoutError:
                    if primed:
                        await self._flush_dropped()
                    else:
                        await self._set_meta(primed=1)
                        primed = True
                    continue
                done = False
                deadline = loop.time() + settings.LOGS_BATCH_SECONDS
                while True:
                    if item is END:
                        done = True
                        break
                    if isinstance(item, KubeError):
                        error = item
                    else:
                        batch.extend(item)
                    if len(batch) >= BATCH_LINES:
                        break
                    remaining = deadline - loop.time()
                    try:
                        item = (
                            queue.get_nowait()
                            if remaining <= 0
                            else await asyncio.wait_for(queue.get(), timeout=remaining)
                        )
                    except (asyncio.QueueEmpty, TimeoutError):
                        break
                if batch:
                    # The first fill goes out too: viewers that waited for it take it from
                    # the backlog and ignore these cursors, one that gave up waiting gets it.
                    await self._write(batch)
                if not primed and (done or queue.empty()):
                    await self._set_meta(primed=1)
                    primed = True
                if done:
                    break
        finally:
            self._open = None
            stream.close()
        if error is not None and not self.stopping:
            raise error

    async def _write(self, batch: list) -> None:
        r = self.hub.redis
        n = len(batch)
        last = await r.hincrby(self.stream.key("meta"), "seq", n)
        first = last - n + 1
        lines = [[first + i, ts, text] for i, (ts, text) in enumerate(batch)]
        last_ts = batch[-1][0]
        at_last = [text for ts, text in batch if ts == last_ts]
        if last_ts == self._written_ts:
            at_last = self._written_texts + at_last
        self._written_ts, self._written_texts = last_ts, at_last[-1000:]
        async with r.pipeline(transaction=False) as tx:
            tx.zadd(self.stream.key("lines"), {json.dumps(line): line[0] for line in lines})
            tx.zremrangebyrank(self.stream.key("lines"), 0, -(settings.LOGS_BUFFER_LINES + 1))
            tx.hset(
                self.stream.key("meta"),
                mapping={"last_ts": last_ts, "last_texts": json.dumps(self._written_texts)},
            )
            tx.sadd(self.stream.pod_key, self.stream.container)
            tx.expire(self.stream.pod_key, settings.LOGS_RETENTION_SECONDS)
            self._expire(tx)
            await tx.execute()
        await self._flush_dropped()
        sent = self._allow(n)
        if sent < n:
            if not self._dropped:
                self._dropped_from = lines[sent][0]
            self._dropped += n - sent
        if sent:
            await self.hub.publish(
                self.stream.group,
                {"type": "logs.lines", "stream": self.stream.describe(), "lines": lines[:sent]},
            )

    def _allow(self, n: int) -> int:
        limit = settings.LOGS_MAX_LINES_PER_SECOND
        if limit <= 0:
            return n
        second = int(time.monotonic())
        window, sent = self._sent_window
        if window != second:
            sent = 0
        allowed = max(0, min(n, limit - sent))
        self._sent_window = (second, sent + allowed)
        return allowed

    async def _flush_dropped(self, *, force: bool = False) -> None:
        if not self._dropped:
            return
        second = int(time.monotonic())
        # One note per second at most: a flood must not turn into a flood of notes.
        if not force and self._note_second == second:
            return
        self._note_second = second
        count, first = self._dropped, self._dropped_from
        self._dropped = 0
        await self.hub.publish(
            self.stream.group,
            {
                "type": "logs.dropped",
                "stream": self.stream.describe(),
                "count": count,
                "from": first,
                "detail": (
                    f"{count} lines dropped to protect the browser (over "
                    f"{settings.LOGS_MAX_LINES_PER_SECOND} lines a second); "
                    "the download has them all"
                ),
            },
        )


def _chunked_lines(stream):
    """Lists of complete lines, one list per chunk read (a partial line waits for the next)."""
    rest = b""
    for chunk in stream.chunks():
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        if parts:
            yield parts
    if rest:
        yield [rest]


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
