"""pods/log: read a container's log, or follow it, with explicit connect and read timeouts.

The response is handed over unread (a `LogStream`), so callers copy the bytes through as
they arrive: the download streams them to the browser unchanged (with timestamps it is then
byte for byte what `kubectl logs --timestamps` prints) and the live follower splits them into
lines. A follow stream that stays silent longer than its read timeout raises `Unavailable`;
the follower then reopens it from the last timestamp it saw.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import kubernetes.client as k8s
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

from .client import api_client, timeouts
from .connection import ClusterConnection
from .errors import translate
from .resources import read_json

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class LogOptions:
    """The query of one pods/log request (the names the API server uses, in Python case)."""

    container: str | None = None
    previous: bool = False
    follow: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: datetime | None = None
    limit_bytes: int | None = None

    def query(self) -> list[tuple[str, str]]:
        query: list[tuple[str, str]] = []
        if self.container:
            query.append(("container", self.container))
        for name, value in (
            ("previous", self.previous),
            ("follow", self.follow),
            ("timestamps", self.timestamps),
        ):
            if value:
                query.append((name, "true"))
        if self.tail_lines is not None:
            query.append(("tailLines", str(self.tail_lines)))
        if self.since_seconds is not None:
            query.append(("sinceSeconds", str(self.since_seconds)))
        if self.since_time is not None:
            # metav1.Time travels as RFC 3339 in whole seconds; finer positions are the
            # follower's business (it skips what it already has).
            stamp = self.since_time.astimezone(UTC).replace(microsecond=0)
            query.append(("sinceTime", stamp.strftime("%Y-%m-%dT%H:%M:%SZ")))
        if self.limit_bytes is not None:
            query.append(("limitBytes", str(self.limit_bytes)))
        return query


class LogStream:
    """An open pods/log response: iterate `chunks()` or `lines()`; `close()` from any thread
    ends a blocked read at once (the follower stops that way when its last viewer leaves)."""

    def __init__(self, response) -> None:
        self._response = response
        self._lock = threading.Lock()
        self._closed = False
        self._released = False
        # A follow that stayed silent past its read timeout ends quietly, with this set: the
        # container may simply have nothing to say, so the caller reopens rather than reports.
        self.timed_out = False

    def chunks(self) -> Iterator[bytes]:
        try:
            for chunk in self._response.stream(CHUNK_BYTES, decode_content=True):
                if chunk:
                    yield chunk
        except urllib3.exceptions.ReadTimeoutError:
            self.timed_out = True
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if self._closed:
                return
            raise translate(exc) from exc
        finally:
            self.release()

    def lines(self) -> Iterator[bytes]:
        """Complete lines without their newline; a last unterminated piece comes last."""
        rest = b""
        for chunk in self.chunks():
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            yield from parts
        if rest:
            yield rest

    def close(self) -> None:
        with self._lock:
            if self._closed or self._released:
                return
            self._closed = True
            # ValueError/OSError: nothing left to unblock (read to its end, or already closed).
            with contextlib.suppress(ValueError, OSError):
                self._response.shutdown()

    def release(self) -> None:
        with self._lock:
            self._released = True
            with contextlib.suppress(ValueError, OSError):
                self._response.release_conn()


def pod_log_open(
    conn: ClusterConnection,
    *,
    namespace: str,
    pod: str,
    options: LogOptions,
    read_timeout: float | None = None,
) -> LogStream:
    """Open pods/log; raises the kube layer's typed errors (NotFound, BadRequest, ...)."""
    client = api_client(conn)
    method, url, headers, _body, _post = client.param_serialize(
        "GET",
        f"/api/v1/namespaces/{namespace}/pods/{pod}/log",
        query_params=options.query(),
        header_params={"Accept": "application/json, */*"},
        auth_settings=["BearerToken"],
    )
    connect_timeout, default_read = timeouts()
    try:
        response = client.call_api(
            method,
            url,
            headers,
            _request_timeout=(connect_timeout, read_timeout or default_read),
        )
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise translate(exc) from exc
    if not 200 <= response.status <= 299:
        response.read()
        raise translate(ApiException(http_resp=response)) from None
    return LogStream(response.response)


def pod_log_read(
    conn: ClusterConnection, *, namespace: str, pod: str, options: LogOptions
) -> bytes:
    """The whole (not followed) log as the API server sends it."""
    stream = pod_log_open(conn, namespace=namespace, pod=pod, options=options)
    return b"".join(stream.chunks())


def parse_timestamp(stamp: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp as the kubelet writes it (Go's
    RFC3339Nano drops trailing zeros, so the strings cannot be compared as text)."""
    if not stamp.endswith("Z"):
        raise ValueError(f"not a UTC timestamp: {stamp!r}")
    whole, _, fraction = stamp[:-1].partition(".")
    seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    if fraction and not fraction.isdigit():
        raise ValueError(f"not a timestamp: {stamp!r}")
    return int(seconds) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def pod_get(conn: ClusterConnection, *, namespace: str, name: str) -> dict:
    """One pod as JSON (the follower reads it when a stream ends: restarted, gone, or done?)."""
    api = k8s.CoreV1Api(api_client(conn))
    return read_json(api.read_namespaced_pod, name, namespace, what=f"read pod {name}")
