"""A request id on every request, so an action, its audit row and its log lines can be joined."""

import logging
import re
import time
import uuid
from contextvars import ContextVar

# The access log: method, path (never the query string, which can carry secrets), status.
access_log = logging.getLogger("controlplane.access")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str | None:
    return _current.get()


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A caller's id is kept only when it is harmless to echo back and to log.
        supplied = request.headers.get(self.header, "")
        request_id = supplied if _VALID.match(supplied) else uuid.uuid4().hex
        request.request_id = request_id
        token = _current.set(request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[self.header] = request_id
        access_log.info(
            "%s %s %s %.0fms %s",
            request.method,
            request.path,
            response.status_code,
            (time.monotonic() - started) * 1000,
            request_id,
        )
        return response
