"""Google's JSON error bodies: {"error": {"code", "message", "status"}}."""

from __future__ import annotations

_HTTP = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "INTERNAL": 500,
}
# google.rpc.Code numbers, for an operation's `error` (a google.rpc.Status).
RPC_CODES = {
    "INVALID_ARGUMENT": 3,
    "FAILED_PRECONDITION": 9,
    "UNAUTHENTICATED": 16,
    "PERMISSION_DENIED": 7,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "ABORTED": 10,
    "INTERNAL": 13,
}


class GoogleError(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def http_code(self) -> int:
        return _HTTP[self.status]

    def body(self) -> dict:
        return {"error": {"code": self.http_code, "message": self.message, "status": self.status}}

    def rpc_status(self) -> dict:
        return {"code": RPC_CODES[self.status], "message": self.message}


def invalid(message: str) -> GoogleError:
    return GoogleError("INVALID_ARGUMENT", message)


def not_found(path: str) -> GoogleError:
    return GoogleError("NOT_FOUND", f"Not found: {path}.")
