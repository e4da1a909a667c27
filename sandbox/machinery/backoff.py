"""The sandbox's one exponential back-off, as client-go's and the kubelet's: the first retry
waits `base`, each further one twice as long, never more than `maximum`."""

from __future__ import annotations

# Past this many doublings every sane maximum is reached; stopping here keeps a key that fails
# for days from overflowing the float conversion.
_MAX_DOUBLINGS = 62


def backoff(attempt: int, base: float, maximum: float) -> float:
    """Seconds to wait before retry number `attempt` (1 is the first retry)."""
    doublings = min(max(attempt - 1, 0), _MAX_DOUBLINGS)
    return min(base * 2**doublings, maximum)
