"""The one error type handlers raise; the server turns it into TF Serving's error shape."""

from __future__ import annotations


class ApiError(Exception):
    """A request failed in a way the client should hear about: `{"error": message}`.

    `reason` is a short, fixed token used as a metrics label (never the free-text message, so
    the label set stays bounded).
    """

    def __init__(self, status: int, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


def bad_request(message: str, *, reason: str = "invalid_argument") -> ApiError:
    return ApiError(400, message, reason=reason)


def not_found(message: str) -> ApiError:
    return ApiError(404, message, reason="not_found")


def unavailable(message: str, *, reason: str = "unavailable") -> ApiError:
    return ApiError(503, message, reason=reason)
