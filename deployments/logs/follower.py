"""The upstream side of one log stream: a follow of pods/log, reopened, deduplicated,
numbered and batched into Redis and the stream's channel group (the hub in upstream.py decides
which process runs it and for how long)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.conf import settings

from controlplane.clusters.models import Cluster
from controlplane.kube.errors import BadRequest, KubeError, NotFound
from controlplane.kube.logs import LogOptions, pod_get, pod_log_open

from .dedupe import Deduper, chunked_lines, split_line
from .store import StreamRef, cluster_load, decode_meta

if TYPE_CHECKING:
    from .upstream import Hub

log = logging.getLogger(__name__)

# Seconds between looks at a container that cannot log yet (waiting, or terminated).
PAUSE = 2.0
# Lines per batch at most (a batch is one channel-layer message).
BATCH_LINES = 2000
END = object()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def container_status(pod: dict, container: str) -> dict:
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == container:
            return cs
    return {}


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
                await asyncio.sleep(PAUSE * 2)
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
                await asyncio.sleep(PAUSE / 2)
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
        await asyncio.sleep(min(PAUSE * failures, 15.0))

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
                for chunk_lines in chunked_lines(stream):
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
