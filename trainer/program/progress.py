"""The machine-readable progress lines the control plane parses (format: README.md).

One line per event on stdout: the fixed prefix, one space, one JSON object. Everything else the
program says goes to stderr through logging, so the lines never interleave with log text.
"""

from __future__ import annotations

import json
import math
import sys
from typing import IO, Any

PREFIX = "TRAINING_PROGRESS"
EVENTS = ("start", "epoch", "end")


def format_line(event: str, **fields: Any) -> str:
    if event not in EVENTS:
        raise ValueError(f"unknown progress event {event!r}")
    payload = {"event": event, **{key: finite(value) for key, value in fields.items()}}
    # allow_nan=False: a diverged loss is sent as null, never as the invalid token NaN.
    return f"{PREFIX} {json.dumps(payload, allow_nan=False, separators=(', ', ': '))}"


def emit(event: str, *, stream: IO[str] | None = None, **fields: Any) -> None:
    stream = stream or sys.stdout
    stream.write(format_line(event, **fields) + "\n")
    stream.flush()


def parse_line(line: str) -> dict | None:
    """The event a log line carries, or None: how a reader of the pod log finds them."""
    head, _, body = line.strip().partition(" ")
    if head != PREFIX:
        return None
    return json.loads(body)


def finite(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (JSON has no NaN or Infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value
