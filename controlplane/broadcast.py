"""The one helper through which everything reaches browsers over the channel layer.

Call it only after the database change it describes has committed (wrap the call in
`transaction.on_commit`), so a browser never sees a change that was rolled back.
"""

import asyncio
import hashlib
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer

log = logging.getLogger(__name__)


def group_name(*parts: str) -> str:
    """A channel group for what `parts` name (e.g. "kube", cluster, kind, namespace).

    Group names allow fewer than 100 ASCII letters, digits, hyphens, underscores and periods,
    while cluster, namespace and kind names together can be far longer. The name is the
    first part (readable in Redis) and a SHA-256 digest of all parts, so two different
    subscriptions never share a group, whatever their lengths and characters.
    """
    digest = hashlib.sha256("\x00".join(str(part) for part in parts).encode()).hexdigest()
    head = "".join(c for c in str(parts[0]) if c.isascii() and (c.isalnum() or c in "-_"))
    return f"{head[:24]}.{digest}"


def broadcast(*, group: str, message: dict) -> None:
    """Send `message` (a dict with a "type" naming the consumer handler) to a group."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(layer.group_send)(group, message)
        return
    # Called from a thread that runs an event loop (async_to_sync refuses that): send from a
    # thread of its own and wait, so the caller still learns whether Redis took the message.
    failure: list[BaseException] = []

    def send() -> None:
        try:
            async_to_sync(layer.group_send)(group, message)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=send, name="broadcast")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


class BroadcastLoop:
    """broadcast() for long-running threaded processes (the watcher).

    `broadcast()` runs each send through async_to_sync, which costs an event loop hand-off and
    a channel-layer connection per loop; the watcher sends one message per cluster change, so
    it keeps one event loop in a thread of its own and one channel layer on it. Sends block
    until done and raise on failure, so a caller knows when Redis did not take a message.
    """

    def __init__(self, *, layer=None, timeout: float = 10.0):
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="broadcast-loop", daemon=True)
        self._thread.start()
        # A private layer instance: its connection pool belongs to this loop only.
        self._layer = layer if layer is not None else channel_layers.make_backend("default")

    def _run(self) -> None:
        self._loop.run_forever()
        # Closed here, in its own thread: channels_redis hooks loop.close() to run one more
        # coroutine on it, which fails in a thread that is running another loop.
        self._loop.close()

    def send(self, *, group: str, message: dict) -> None:
        future = asyncio.run_coroutine_threadsafe(
            self._layer.group_send(group, message), self._loop
        )
        try:
            future.result(self._timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        async def _flush():
            close = getattr(self._layer, "close_pools", None)
            if close is not None:
                await close()

        try:
            asyncio.run_coroutine_threadsafe(_flush(), self._loop).result(self._timeout)
        except Exception:
            log.exception("closing the channel layer's connections failed")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self._timeout)
