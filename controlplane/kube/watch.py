"""List-then-watch: the one loop that keeps a consumer in step with a kind of object.

The loop lists (in pages), hands the whole list to `on_relist`, then watches from the list's
resourceVersion with bookmarks on. A watch that ends cleanly (the server's timeoutSeconds, or a
dropped connection) is resumed from the last resourceVersion seen, so nothing is missed and
nothing is replayed. When the server says that version is too old (410 Gone, as an HTTP status
or as an ERROR event) or rejects it in any other way, the loop relists: the consumer gets a
complete fresh state rather than a gap. Connection errors back off exponentially up to a cap.

Objects are plain dicts exactly as the API server sends them (camelCase keys); the loop reads the
JSON itself instead of going through the generated models, which would cost a deserialise and a
re-serialise per object and drop fields the models don't know.

Exceptions raised by the callbacks are not caught here: they end the loop, so a consumer that
cannot store what it was given (say its Redis is down) never silently drops an event. The
consumer restarts the loop when it is ready, which begins with a fresh list.
"""

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from controlplane.kube.client import api_client, timeouts
from controlplane.kube.connection import ClusterConnection
from controlplane.kube.errors import Gone, KubeError, Unavailable, translate
from controlplane.kube.retry import backoff_delay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    name: str
    prefix: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None) -> str:
        if namespace and self.namespaced:
            return f"{self.prefix}/namespaces/{namespace}/{self.plural}"
        return f"{self.prefix}/{self.plural}"


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("namespaces", "/api/v1", "namespaces", False),
        Kind("nodes", "/api/v1", "nodes", False),
        Kind("pods", "/api/v1", "pods", True),
        Kind("services", "/api/v1", "services", True),
        Kind("events", "/api/v1", "events", True),
        Kind("deployments", "/apis/apps/v1", "deployments", True),
        Kind("replicasets", "/apis/apps/v1", "replicasets", True),
        Kind("horizontalpodautoscalers", "/apis/autoscaling/v2", "horizontalpodautoscalers", True),
        Kind("jobs", "/apis/batch/v1", "jobs", True),
        Kind("ingresses", "/apis/networking.k8s.io/v1", "ingresses", True),
    )
}

# Errors that mean "the network or the server is not there right now": retry the same watch.
_CONNECTION_ERRORS = (urllib3.exceptions.HTTPError, OSError, Unavailable)


def kind_get(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"kind must be one of {', '.join(sorted(KINDS))}, got {name!r}") from None


def _request(conn: ClusterConnection, path: str, query: list[tuple[str, str]], read_timeout):
    """GET `path`; returns the unread urllib3 response of a 2xx, raises KubeError otherwise."""
    client = api_client(conn)
    method, url, headers, _body, _post = client.param_serialize(
        "GET",
        path,
        query_params=query,
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    connect_timeout, _ = timeouts()
    try:
        response = client.call_api(
            method, url, headers, _request_timeout=(connect_timeout, read_timeout)
        )
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise translate(exc) from exc
    if not 200 <= response.status <= 299:
        response.read()
        raise translate(ApiException(http_resp=response)) from None
    return response.response


def list_objects(
    conn: ClusterConnection,
    *,
    kind: str,
    namespace: str | None = None,
    page_size: int = 500,
    stop: threading.Event | None = None,
    transform: Callable[[dict], Any] | None = None,
) -> tuple[list, str]:
    """A consistent list of every object of `kind` (in pages) and the list's resourceVersion.

    `transform` is applied to each object as its page arrives (the list holds what it returns,
    None: nothing): a consumer that keeps only part of each object, or stores each page as it
    comes, never holds a whole list of full objects.
    """
    spec = kind_get(kind)
    _, read_timeout = timeouts()
    items: list = []
    token = ""
    while True:
        query = [("limit", str(page_size))]
        if token:
            query.append(("continue", token))
        response = _request(conn, spec.path(namespace), query, read_timeout)
        try:
            page = json.loads(response.data)
        finally:
            response.release_conn()
        page_items = page.get("items") or []
        if transform is None:
            items.extend(page_items)
        else:
            items.extend(kept for kept in map(transform, page_items) if kept is not None)
        metadata = page.get("metadata") or {}
        del page, page_items
        token = metadata.get("continue") or ""
        if not token:
            return items, metadata.get("resourceVersion", "")
        if stop is not None and stop.is_set():
            raise _Stopped


class CallbackError(Exception):
    """A consumer callback raised; it ends list_then_watch (the cause is chained)."""


def _call(callback, *args) -> None:
    try:
        callback(*args)
    except Exception as exc:
        raise CallbackError(f"{callback.__name__} failed: {type(exc).__name__}: {exc}") from exc


class _Stopped(Exception):
    """The stop event was set while the loop was blocked; unwinds to list_then_watch."""


class RelistNeeded(Exception):
    """The server rejected the resourceVersion the watch resumed from; a fresh list is needed."""


class _Interrupter:
    """Unblocks a streaming read when `stop` is set, so stopping never waits for the server.

    A watch read blocks until the server sends something (possibly minutes); a helper thread
    waits on the stop event and shuts the current response down, which makes the read return.
    """

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self._lock = threading.Lock()
        self._response = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch-interrupter", daemon=True)
        self._thread.start()

    def attach(self, response) -> None:
        with self._lock:
            self._response = response
            if self.stop.is_set():
                _shutdown(response)

    def detach(self) -> None:
        with self._lock:
            self._response = None

    def close(self) -> None:
        self._done.set()

    def _run(self) -> None:
        # Polls `_done` twice a second so the helper ends soon after the loop does.
        while not self._done.is_set():
            if self.stop.wait(0.5):
                with self._lock:
                    if self._response is not None:
                        _shutdown(self._response)
                return


def _shutdown(response) -> None:
    # ValueError/OSError: no socket left to unblock (an error answer already read in full, or
    # the connection closed), so the read this would interrupt is not waiting.
    with contextlib.suppress(ValueError, OSError):
        response.shutdown()


def _lines(response) -> Iterator[bytes]:
    buffer = b""
    for chunk in response.stream(16 * 1024, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer


class _Position:
    """The last resourceVersion seen, shared with the watch so a dropped stream resumes there."""

    def __init__(self):
        self.resource_version: str | None = None  # None: a list is needed before watching


def list_then_watch(
    conn: ClusterConnection,
    *,
    kind: str,
    on_event: Callable[[str, dict], None],
    on_relist: Callable[[list[dict], str], None],
    stop: threading.Event,
    timeout_seconds: int = 300,
    namespace: str | None = None,
    on_bookmark: Callable[[str], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
    on_watch_open: Callable[[str], None] | None = None,
    backoff_base: float = 0.5,
    backoff_cap: float = 30.0,
    page_size: int = 500,
    transform: Callable[[dict], Any] | None = None,
    on_list_start: Callable[[], None] | None = None,
) -> None:
    """Keep the caller in step with `kind` until `stop` is set; returns only then.

    on_relist(objects, resource_version): the complete current state (first call, and after
    every 410 or rejected resourceVersion). on_event(type, object): ADDED, MODIFIED or DELETED
    after that. on_bookmark(resource_version): the server confirmed the stream is current.
    on_error(exc): every error the loop recovers from (for health reporting; it is also logged).
    on_watch_open(resource_version): a watch request was accepted (the stream is live).
    A callback that raises ends the loop with CallbackError. `transform` is applied to each
    listed object before on_relist sees it (list_objects); events carry whole objects.
    on_list_start(): a list begins (the objects transform sees until on_relist belong to it;
    a list that fails half way is begun again).
    """
    spec = kind_get(kind)
    interrupter = _Interrupter(stop)
    position = _Position()
    failures = 0
    where = f"{spec.name} {namespace or '*'} on {conn.server}"

    def back_off(exc: Exception) -> None:
        nonlocal failures
        failures += 1
        delay = backoff_delay(failures - 1, base=backoff_base, cap=backoff_cap)
        log.warning("watch %s: %s; retrying in %.1fs", where, exc, delay)
        if on_error is not None:
            _call(on_error, exc)
        stop.wait(delay)

    try:
        while not stop.is_set():
            try:
                if position.resource_version is None:
                    if on_list_start is not None:
                        _call(on_list_start)
                    objects, resource_version = list_objects(
                        conn,
                        kind=kind,
                        namespace=namespace,
                        page_size=page_size,
                        stop=stop,
                        transform=transform,
                    )
                    _call(on_relist, objects, resource_version)
                    del objects  # not held for the life of the watch that follows
                    position.resource_version = resource_version
                    failures = 0
                _watch_once(
                    conn,
                    spec,
                    namespace,
                    position,
                    timeout_seconds,
                    interrupter,
                    on_event,
                    on_bookmark,
                    on_watch_open,
                )
                failures = 0
            except _Stopped:
                break
            except (RelistNeeded, Gone) as exc:
                if stop.is_set():
                    break
                log.info("watch %s: %s; relisting", where, exc or "resourceVersion expired")
                if on_error is not None:
                    _call(on_error, exc)
                position.resource_version = None
            except _CONNECTION_ERRORS as exc:
                if stop.is_set():
                    break
                # Resuming is right after a dropped connection; but a server that keeps failing
                # the same resourceVersion (a 5xx "too large" after a restart) needs a relist.
                if failures >= 2:
                    position.resource_version = None
                back_off(exc)
            except KubeError as exc:
                if stop.is_set():
                    break
                # Forbidden, Unauthorized, Invalid...: nothing to resume; list again after a pause
                # (credentials may be fixed in the meantime).
                position.resource_version = None
                back_off(exc)
    finally:
        interrupter.close()


def _watch_once(
    conn,
    spec,
    namespace,
    position,
    timeout_seconds,
    interrupter,
    on_event,
    on_bookmark,
    on_watch_open,
) -> None:
    """One watch request from position.resource_version, read to its end."""
    query = [
        ("watch", "1"),
        ("resourceVersion", position.resource_version),
        ("allowWatchBookmarks", "true"),
        ("timeoutSeconds", str(int(timeout_seconds))),
    ]
    # A silent connection longer than the server's own timeout is a dead one.
    read_timeout = timeout_seconds + max(5.0, timeout_seconds * 0.2)
    try:
        response = _request(conn, spec.path(namespace), query, read_timeout)
    except Gone:
        raise
    except KubeError as exc:
        if isinstance(exc, _CONNECTION_ERRORS):
            raise
        # The server refused this resourceVersion (e.g. too large after a restart).
        raise RelistNeeded(str(exc)) from exc
    interrupter.attach(response)
    try:
        if on_watch_open is not None:
            _call(on_watch_open, position.resource_version)
        for line in _lines(response):
            if interrupter.stop.is_set():
                raise _Stopped
            event = json.loads(line)
            event_type = event.get("type")
            obj = event.get("object") or {}
            if event_type == "ERROR":
                message = f"watch ERROR event {obj.get('code')}: {obj.get('message', '')}"
                if obj.get("code") == 410:
                    raise Gone(message, reason=obj.get("reason", "Expired"))
                raise RelistNeeded(message)
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if event_type == "BOOKMARK":
                if rv:
                    position.resource_version = rv
                if on_bookmark is not None:
                    _call(on_bookmark, position.resource_version)
                continue
            if event_type not in ("ADDED", "MODIFIED", "DELETED"):
                log.warning("watch %s: ignoring unknown event type %r", spec.name, event_type)
                continue
            _call(on_event, event_type, obj)
            if rv:
                position.resource_version = rv
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if interrupter.stop.is_set():
            raise _Stopped from None
        raise translate(exc) from exc
    finally:
        interrupter.detach()
        response.release_conn()
    if interrupter.stop.is_set():
        raise _Stopped
