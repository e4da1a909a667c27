"""The failures a user can fix, reported as one line without a traceback."""

from __future__ import annotations

# Exit codes. Retrying cannot fix 2 or 3, so a Job's podFailurePolicy can fail at once on them
# (onExitCodes: In [2, 3] -> FailJob) instead of spending its backoffLimit; 1 is anything
# unexpected (with a traceback), which a retry may well fix.
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_TERMINATED = 143  # 128 + SIGTERM, what a shell would report


class TrainingError(Exception):
    """Bad data, an unusable output or a checkpoint that does not fit: the message says which
    path and what is wrong."""

    exit_code = EXIT_BAD_INPUT


class Terminated(BaseException):
    """SIGTERM arrived (Job deleted, pod evicted); the last checkpoint stands."""
