"""HTTP watch streams: replay from a resourceVersion (410 when compacted), then live events,
with bookmarks and timeouts, as newline-delimited watch events over a chunked response."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import web

from sandbox.apiserver import conversion, tables
from sandbox.machinery.errors import ApiError
from sandbox.machinery.resources import ResourceType
from sandbox.machinery.selectors import Matcher
from sandbox.storage.entry import Entry
from sandbox.storage.watchers import Watcher

log = logging.getLogger(__name__)

DEFAULT_BOOKMARK_INTERVAL = 5.0
_IDLE_CHECK = 5.0
MAX_PENDING = 500_000


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class _Encoder:
    """Serializes watch events for one stream (storage JSON, a converted version, or Tables)."""

    def __init__(self, rt: ResourceType, version: str, table: bool, include_object: str) -> None:
        self.rt = rt
        self.version = version
        self.table = table
        self.include_object = include_object
        self.convert = conversion.needs_conversion(rt, version)
        self.sent_columns = False

    def event(self, etype: str, entry: Entry) -> bytes:
        if self.table:
            now = time.time()
            obj = conversion.to_version(self.rt, self.version, entry.obj) if self.convert else None
            row = tables.row_bytes(self.rt, entry, self.include_object, now, obj)
            cols = b"[]" if self.sent_columns else _dumps(tables.columns_for(self.rt))
            self.sent_columns = True
            rv = entry.obj["metadata"].get("resourceVersion", "")
            body = (
                b'{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":'
                + _dumps(rv)
                + b'},"columnDefinitions":'
                + cols
                + b',"rows":['
                + row
                + b"]}"
            )
        elif self.convert:
            body = _dumps(conversion.to_version(self.rt, self.version, entry.obj))
        else:
            body = entry.raw
        return b'{"type":"' + etype.encode() + b'","object":' + body + b"}\n"

    def bookmark(self, rv: int) -> bytes:
        obj = {
            "kind": self.rt.kind,
            "apiVersion": self.rt.api_version(self.version),
            "metadata": {"resourceVersion": str(rv)},
        }
        return _dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


def _error_event(err: ApiError) -> bytes:
    return _dumps({"type": "ERROR", "object": err.status()}) + b"\n"


async def serve(
    request: web.Request,
    store,
    rt: ResourceType,
    version: str,
    namespace: str | None,
    label_match: Matcher,
    field_match: Matcher,
    *,
    table: bool,
    include_object: str,
    bookmark_interval: float,
) -> web.StreamResponse:
    q = request.query
    rv_param = q.get("resourceVersion", "")
    timeout = q.get("timeoutSeconds")
    try:
        deadline = time.monotonic() + float(timeout) if timeout else None
    except ValueError:
        raise ApiError.bad_request(f"invalid timeoutSeconds: {timeout!r}") from None
    bookmarks = q.get("allowWatchBookmarks", "").lower() in ("true", "1")
    send_initial = q.get("sendInitialEvents", "").lower() == "true"
    encoder = _Encoder(rt, version, table, include_object)
    pending: list[tuple[str, Entry]] = []
    queue: asyncio.Queue[tuple[str, Entry]] = asyncio.Queue()
    watcher = Watcher(rt.key, namespace, label_match, field_match, queue.put_nowait)

    error: ApiError | None = None
    # Compute the starting events and register the watcher with no await in between, so no
    # change can fall into a gap between the two (the loop is single-threaded).
    if rv_param in ("", "0") or send_initial:
        for entry in store.iter_entries(rt.key, namespace):
            if watcher.matches(entry.obj):
                pending.append(("ADDED", entry))
    else:
        try:
            since = int(rv_param)
        except ValueError:
            raise ApiError.bad_request(f"invalid resource version: {rv_param!r}") from None
        try:
            replay = store.history_since(rt.key, since)
        except ApiError as err:
            error = err
            replay = []
        collector = Watcher(rt.key, namespace, label_match, field_match, pending.append)
        for etype, entry, old in replay:
            collector.offer(etype, entry, old)
    start_rv = store.resource_version
    if error is None:
        store.add_watcher(watcher)

    resp = web.StreamResponse(
        status=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
    )
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        if error is not None:
            await resp.write(_error_event(error))
            return resp
        if pending:
            await resp.write(b"".join(encoder.event(t, e) for t, e in pending))
        if send_initial and bookmarks:
            await resp.write(
                encoder.bookmark(start_rv).replace(
                    b'"metadata":{',
                    b'"metadata":{"annotations":{"k8s.io/initial-events-end":"true"},',
                    1,
                )
            )
        last_bookmark = time.monotonic()
        while True:
            now = time.monotonic()
            wait = _IDLE_CHECK
            if bookmarks:
                wait = min(wait, max(0.0, last_bookmark + bookmark_interval - now))
            if deadline is not None:
                wait = min(wait, deadline - now)
                if wait <= 0:
                    break
            try:
                first = await asyncio.wait_for(queue.get(), timeout=max(wait, 0.01))
            except TimeoutError:
                first = None
            if first is not None:
                batch = [first]
                while not queue.empty() and len(batch) < 5000:
                    batch.append(queue.get_nowait())
                closing = any(t == "CLOSE" for t, _ in batch)
                batch = [(t, e) for t, e in batch if t != "CLOSE"]
                if batch:
                    await resp.write(b"".join(encoder.event(t, e) for t, e in batch))
                if closing:
                    break  # the server is stopping: end the stream cleanly
                if queue.qsize() > MAX_PENDING:
                    await resp.write(
                        _error_event(
                            ApiError.expired(
                                "the watcher fell too far behind; relist and watch again"
                            )
                        )
                    )
                    break
            elif (
                bookmarks
                and queue.empty()
                and time.monotonic() - last_bookmark >= (bookmark_interval)
            ):
                await resp.write(encoder.bookmark(store.resource_version))
                last_bookmark = time.monotonic()
            transport = request.transport
            if transport is None or transport.is_closing():
                break
    except ConnectionResetError:
        log.debug("watch client for %s went away", rt.key)
    finally:
        store.remove_watcher(watcher)
    return resp
