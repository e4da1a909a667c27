"""Lines as a follow delivers them: split from their timestamps, and skipped when a reopened
follow sends again what was already stored."""

from __future__ import annotations

import collections

from controlplane.kube.logs import parse_timestamp


class Deduper:
    """Skips what a reopened stream sends again: every line before the last timestamp seen,
    and at that very timestamp the texts already sent (sinceTime only has whole seconds)."""

    def __init__(self, last_ts: str = "", last_texts: list[str] | None = None):
        self.last_ts = last_ts
        self.at_last: list[str] = list(last_texts or [])
        self._parsed: tuple[str, int] = ("", -1)
        self.reopened()

    @property
    def last_ns(self) -> int:
        """The last timestamp seen, in nanoseconds (-1: none yet)."""
        if not self.last_ts:
            return -1
        if self._parsed[0] != self.last_ts:
            self._parsed = (self.last_ts, parse_timestamp(self.last_ts))
        return self._parsed[1]

    def reopened(self) -> None:
        self._skip: collections.Counter = collections.Counter(self.at_last)
        self._resume_ns = self.last_ns
        self._past = self._resume_ns < 0

    def accept(self, ts: str, text: str) -> bool:
        if not self._past:
            try:
                ns = parse_timestamp(ts)
            except ValueError:
                return True  # not a timestamped line (should not happen): never lose it
            if ns < self._resume_ns:
                return False
            if ns == self._resume_ns and self._skip[text] > 0:
                self._skip[text] -= 1
                return False
            # Past the resume point every line is new (a stream is in time order), so from
            # here on only strings are compared; timestamps are parsed around reopenings only.
            self._past = ns > self._resume_ns
        if ts == self.last_ts:
            self.at_last.append(text)
        else:
            self.last_ts, self.at_last = ts, [text]
        return True


def split_line(raw: bytes) -> tuple[str, str]:
    text = raw.decode("utf-8", "replace")
    ts, sep, rest = text.partition(" ")
    return (ts, rest) if sep else (ts, "")


def chunked_lines(stream):
    """Lists of complete lines, one list per chunk read (a partial line waits for the next)."""
    rest = b""
    for chunk in stream.chunks():
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        if parts:
            yield parts
    if rest:
        yield [rest]
