"""What the process runtime needs from the operating system (Linux): a parent-death signal
for each child, a reaper for what the children fork, waiting for a process by pidfd, and CPU
and memory of whole process groups from /proc."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys

CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PR_SET_PDEATHSIG = 1


# The reaper outlives a killed sandbox by exactly as long as it takes to kill what the sandbox
# started: it reads "+PGID" / "-PGID" lines from a pipe whose other end only the sandbox holds,
# and at end of file (the sandbox is gone, however it went) kills every group still listed.
# The parent-death signal alone would only reach the direct children.
_REAPER = """
import os
groups, buf = set(), b""
while True:
    data = os.read(0, 4096)
    if not data:
        break
    buf += data
    *lines, buf = buf.split(b"\\n")
    for line in lines:
        (groups.add if line[:1] == b"+" else groups.discard)(int(line[1:]))
for group in groups:
    try:
        os.killpg(group, 9)
    except OSError:
        pass
"""


def die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the forked child
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)  # the sandbox died between fork and prctl


class Reaper:
    """The reaper process, started on first use; watch() and forget() process groups."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None

    def _send(self, line: str) -> None:
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _REAPER],
                stdin=subprocess.PIPE,
                start_new_session=True,
            )
        assert self._process.stdin is not None
        self._process.stdin.write(line.encode() + b"\n")
        self._process.stdin.flush()

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def forget(self, pgid: int) -> None:
        self._send(f"-{pgid}")

    def close(self) -> None:
        """Let it kill whatever is still listed and exit (blocks until it has)."""
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait()
            self._process = None


async def main_process_exit(pid: int) -> None:
    loop = asyncio.get_running_loop()
    exited = asyncio.Event()
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # gone (and reaped) already
    loop.add_reader(fd, exited.set)
    try:
        await exited.wait()
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def group_usage(groups: set[int]) -> dict[int, tuple[int, int]]:
    """(CPU clock ticks, resident bytes) summed over the live processes of each group."""
    totals = dict.fromkeys(groups, (0, 0))
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue  # exited between the listing and the read
        fields = data[data.rfind(b")") + 2 :].split()
        pgrp = int(fields[2])
        if pgrp in totals:
            ticks, rss = totals[pgrp]
            totals[pgrp] = (
                ticks + int(fields[11]) + int(fields[12]),
                rss + int(fields[21]) * _PAGE,
            )
    return totals
