"""Typed errors for every failure of a Kubernetes API call, and the one translation to them.

Messages are built from the API's Status object, never from the raw exception text, so no
request header (and so no credential) can leak into an error shown to a user or logged.
"""

import json
import logging
import re
import ssl

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)


class KubeError(Exception):
    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None, reason: str = ""):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class NotFound(KubeError):
    status = 404


class AlreadyExists(KubeError):
    status = 409


class Conflict(KubeError):
    status = 409


class Invalid(KubeError):
    status = 422

    def __init__(self, message: str, *, causes: list[dict] | None = None, **kwargs):
        super().__init__(message, **kwargs)
        # Each cause: {"field": "spec.replicas", "reason": "FieldValueInvalid", "message": ...}
        self.causes = causes or []


class Forbidden(KubeError):
    status = 403


class Unauthorized(KubeError):
    status = 401


class Unavailable(KubeError):
    """Transient: the server is unreachable, overloaded (429/5xx) or timed out."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Gone(KubeError):
    """410 Expired: a watch's resourceVersion is too old; the caller relists."""

    status = 410


class BadRequest(KubeError):
    status = 400


def _status_body(exc: ApiException) -> dict:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"message": body[:500]}
    return parsed if isinstance(parsed, dict) else {}


def _retry_after(exc: ApiException) -> float | None:
    headers = exc.headers or {}
    raw = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        # An HTTP-date or garbage: the retry policy's own back-off applies instead.
        log.info("ignoring unparseable Retry-After header %r", raw)
        return None


def from_api_exception(exc: ApiException) -> KubeError:
    status = exc.status or 0
    body = _status_body(exc)
    reason = body.get("reason") or exc.reason or ""
    message = body.get("message") or f"{status} {exc.reason or 'error'}"
    details = body.get("details") or {}
    if status == 404:
        return NotFound(message, reason=reason)
    if status == 409:
        if reason == "AlreadyExists":
            return AlreadyExists(message, reason=reason)
        return Conflict(message, reason=reason)
    if status == 422:
        causes = [
            {
                "field": cause.get("field", ""),
                "reason": cause.get("reason", ""),
                "message": cause.get("message", ""),
            }
            for cause in details.get("causes") or []
        ]
        return Invalid(message, causes=causes, reason=reason)
    if status == 403:
        return Forbidden(message, reason=reason)
    if status == 401:
        return Unauthorized(message or "Unauthorized", reason=reason)
    if status == 410:
        return Gone(message, reason=reason)
    if status == 400:
        return BadRequest(message, reason=reason)
    if status == 429 or status >= 500:
        return Unavailable(message, status=status, reason=reason, retry_after=_retry_after(exc))
    if status == 0:
        # The client turns a failed TLS handshake into a status-0 ApiException raised while
        # handling urllib3's SSLError: say what OpenSSL refused, not the client's wrapping.
        handshake = exc.__cause__ or exc.__context__
        if isinstance(handshake, urllib3.exceptions.SSLError):
            return Unavailable(f"TLS error talking to the API server: {_tls_failure(handshake)}")
        return Unavailable(message, reason=reason)
    return KubeError(message, status=status, reason=reason)


def _address(exc: BaseException) -> str:
    """host:port of the connection an urllib3 error was about, when it says."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        conn = exc.conn
    elif isinstance(exc, urllib3.exceptions.PoolError):
        conn = exc.pool  # ReadTimeoutError and other errors of a connection pool
    elif exc.args and hasattr(exc.args[0], "host"):
        conn = exc.args[0]  # ConnectTimeoutError(connection, message)
    else:
        conn = None
    host = getattr(conn, "host", None)
    if not host:
        return ""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6
    port = getattr(conn, "port", None)
    return f"{host}:{port}" if port else host


def _server(exc: BaseException) -> str:
    address = _address(exc)
    return f"The API server at {address}" if address else "The API server"


def _waited(exc: BaseException, which: str) -> str:
    """ "within 5 s": the timeout urllib3 names in its message, else the configured one."""
    found = re.search(r"timeout=([0-9.]+)", str(exc))
    if found:
        seconds = float(found.group(1))
    else:
        from .client import timeouts

        connect, read = timeouts()
        seconds = connect if which == "connect" else read
    return f"within {seconds:g} s"


def _cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ or exc.__context__


def _connection_failure(exc: BaseException) -> str:
    """What happened when no HTTP answer came back, in words, with the server's address."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return _connection_failure(exc.reason)
    server = _server(exc)
    if isinstance(exc, urllib3.exceptions.NameResolutionError):
        host = getattr(getattr(exc, "conn", None), "host", None) or "of the API server"
        return f"The API server's name {host} could not be resolved"
    # NewConnectionError is a ConnectTimeoutError in urllib3 2, but nothing timed out: the
    # connection failed at once, and its cause says how.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        cause = _cause(exc)
        if isinstance(cause, ConnectionRefusedError):
            return f"{server} refused the connection (nothing listens there?)"
        if isinstance(cause, TimeoutError):
            return f"{server} did not accept a connection {_waited(exc, 'connect')}"
        reason = getattr(cause, "strerror", None) or cause.__class__.__name__
        return f"{server} could not be reached: {reason}"
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return f"{server} did not accept a connection {_waited(exc, 'connect')}"
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return f"{server} did not answer {_waited(exc, 'read')}"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"{server} did not answer in time"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        cause = exc.args[1] if len(exc.args) > 1 else None
        what = cause.__class__.__name__ if isinstance(cause, BaseException) else "no reason given"
        return f"{server} closed the connection ({what})"
    if isinstance(exc, ConnectionRefusedError):
        return "The API server refused the connection (nothing listens there?)"
    return f"The API server is unreachable ({exc.__class__.__name__})"


def _tls_failure(exc: BaseException) -> str:
    """What went wrong in the TLS handshake, from OpenSSL's verdict (which names a host name
    mismatch and the name checked), never from request data."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            verdict = (current.verify_message or "").strip().rstrip(".")
            return f"the server's certificate was not accepted: {verdict or 'verification failed'}"
        nested = next((a for a in current.args if isinstance(a, BaseException)), None)
        current = nested or _cause(current)
    return exc.__class__.__name__


def translate(exc: BaseException) -> KubeError:
    """Map any exception raised by a client call to a KubeError (or the original if unknown)."""
    if isinstance(exc, KubeError):
        return exc
    if isinstance(exc, ApiException):
        return from_api_exception(exc)
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and isinstance(
        exc.reason, urllib3.exceptions.SSLError
    ):
        exc = exc.reason
    if isinstance(exc, urllib3.exceptions.SSLError):
        return Unavailable(f"TLS error talking to the API server: {_tls_failure(exc)}")
    if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | OSError):
        return Unavailable(_connection_failure(exc))
    raise TypeError(f"not a Kubernetes client error: {exc!r}") from exc


# Exceptions a client call can raise that `translate` understands.
CLIENT_ERRORS = (ApiException, urllib3.exceptions.HTTPError, ConnectionError, OSError)
