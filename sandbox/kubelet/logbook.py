"""Container logs: the kubelet appends lines; the pods/log subresource (apiserver/podlogs.py)
reads them."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_MAX_LINES = 20_000


@dataclass
class ContainerLog:
    lines: deque = field(default_factory=lambda: deque(maxlen=DEFAULT_MAX_LINES))
    previous: deque | None = None
    seq: int = 0  # lines ever appended to the current log (followers resume by it)


class LogBook:
    """Per (namespace, pod, container) logs with the previous instance kept for --previous."""

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES) -> None:
        self._logs: dict[tuple[str, str, str], ContainerLog] = {}
        self._containers: dict[tuple[str, str], set[str]] = {}
        self._max_lines = max_lines
        # followers of a pod are woken on every new line, restart and pod change
        self._wakers: dict[tuple[str, str], set[asyncio.Event]] = {}
        # follow requests per (namespace, pod, container): [ever opened, open now], so tests
        # and benchmarks can count how many upstream streams a client really holds
        self._follows: dict[tuple[str, str, str], list[int]] = {}

    def _log(self, ns: str, pod: str, container: str) -> ContainerLog:
        key = (ns, pod, container)
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = ContainerLog(lines=deque(maxlen=self._max_lines))
            self._containers.setdefault((ns, pod), set()).add(container)
        return log

    def append(
        self, ns: str, pod: str, container: str, line: str, *, ts: datetime | None = None
    ) -> None:
        log = self._log(ns, pod, container)
        log.lines.append((ts or datetime.now(UTC), line.rstrip("\n")))
        log.seq += 1
        self.wake(ns, pod)

    def restart(self, ns: str, pod: str, container: str) -> None:
        log = self._log(ns, pod, container)
        log.previous = log.lines
        log.lines = deque(maxlen=self._max_lines)
        log.seq = 0
        self.wake(ns, pod)

    def forget(self, ns: str, pod: str) -> None:
        for container in self._containers.pop((ns, pod), ()):
            self._logs.pop((ns, pod, container), None)
        self.wake(ns, pod)

    def lines(
        self, ns: str, pod: str, container: str, *, previous: bool = False
    ) -> list[tuple[datetime, str]] | None:
        log = self._logs.get((ns, pod, container))
        if log is None:
            return None if previous else []
        if previous:
            return list(log.previous) if log.previous is not None else None
        return list(log.lines)

    def seq(self, ns: str, pod: str, container: str) -> int:
        log = self._logs.get((ns, pod, container))
        return log.seq if log else 0

    def since_seq(self, ns: str, pod: str, container: str, seq: int) -> tuple[list, int]:
        """Lines appended after `seq` (the count a follower has already sent), and the new seq."""
        log = self._logs.get((ns, pod, container))
        if log is None:
            return [], 0
        if log.seq < seq:
            # the container restarted: the follower's log instance is over
            return [], -1
        new = log.seq - seq
        if new <= 0:
            return [], log.seq
        lines = list(log.lines)
        return lines[-new:] if new <= len(lines) else lines, log.seq

    def follow_opened(self, ns: str, pod: str, container: str) -> None:
        counts = self._follows.setdefault((ns, pod, container), [0, 0])
        counts[0] += 1
        counts[1] += 1

    def follow_closed(self, ns: str, pod: str, container: str) -> None:
        counts = self._follows.get((ns, pod, container))
        if counts is not None:
            counts[1] -= 1

    def follows(self) -> list[dict]:
        return [
            {"namespace": ns, "pod": pod, "container": c, "opened": opened, "open": now}
            for (ns, pod, c), (opened, now) in sorted(self._follows.items())
        ]

    def waker(self, ns: str, pod: str) -> asyncio.Event:
        event = asyncio.Event()
        self._wakers.setdefault((ns, pod), set()).add(event)
        return event

    def drop_waker(self, ns: str, pod: str, event: asyncio.Event) -> None:
        wakers = self._wakers.get((ns, pod))
        if wakers is not None:
            wakers.discard(event)
            if not wakers:
                del self._wakers[(ns, pod)]

    def wake(self, ns: str, pod: str) -> None:
        for event in self._wakers.get((ns, pod), ()):
            event.set()

    def wake_all(self) -> None:
        for events in self._wakers.values():
            for event in events:
                event.set()

    def attach(self, api) -> None:
        """Wake followers when their pod changes (terminated containers end follow streams)."""

        def on_pod(etype: str, obj: dict, old: dict | None) -> None:
            meta = obj["metadata"]
            if (meta.get("namespace"), meta["name"]) in self._wakers:
                self.wake(meta.get("namespace", ""), meta["name"])

        api.subscribe("pods", on_pod)
