"""What can go wrong talking to Google, as the rest of the app sees it (never google.* types)."""


class GkeError(Exception):
    """Google refused or failed a call; `message` is Google's own, verbatim.

    `code` is the HTTP status Google answered (0 when no answer came), `status` its canonical
    name (ALREADY_EXISTS, NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED, ...)."""

    def __init__(self, message: str, *, code: int = 0, status: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return f"{self.status} ({self.code}): {self.message}" if self.status else self.message


class GkeUnavailable(GkeError):
    """No answer (connection refused, timeout, 5xx): worth trying again later."""


class GkeCredentialsRefused(GkeError):
    """The credentials could not get an access token (a revoked or deleted key, a bad grant)."""
