"""--state FILE: every object written to one JSON file (debounced, atomic rename) and read
back on start, so a restarted sandbox keeps its cluster."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from sandbox.machinery.resources import STORED

log = logging.getLogger(__name__)

FORMAT = "sandbox-state/1"
RESTART_RV_GAP = 1000


def snapshot(storage) -> bytes:
    """Every stored object as bytes, from each object's cached serialization."""
    parts = [
        b'{"format":"'
        + FORMAT.encode()
        + b'","resourceVersion":'
        + str(storage.resource_version).encode()
        + b',"objects":{'
    ]
    first = True
    for key, entries in storage.all_entries().items():
        if not entries:
            continue
        if not first:
            parts.append(b",")
        first = False
        parts.append(json.dumps(key).encode() + b":[" + b",".join(e.raw for e in entries) + b"]")
    parts.append(b"}}")
    return b"".join(parts)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def restore(storage, path: Path) -> bool:
    """Load a state file into empty storage; False when there is no file yet."""
    if not path.exists():
        return False
    data = json.loads(path.read_bytes())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a sandbox state file (format {data.get('format')!r})")
    known = {rt.key for rt in STORED}
    objects = data.get("objects") or {}
    unknown = set(objects) - known
    if unknown:
        raise ValueError(f"{path}: unknown resources {sorted(unknown)}")
    # namespaces first so everything else has a home
    for key in sorted(objects, key=lambda k: k != "namespaces"):
        storage.load(key, objects[key])
    # Changes after the last flush (a killed process) are lost, so resourceVersions a client saw
    # may not be in the file. Jumping ahead makes every watch from before the restart get 410
    # and relist, instead of silently missing those changes.
    storage.load("namespaces", [], int(data.get("resourceVersion") or 0) + RESTART_RV_GAP)
    log.info("restored %d objects from %s", sum(len(v) for v in objects.values()), path)
    return True


class StateWriter:
    """Writes the state file a moment after changes stop arriving (or at least every
    `interval` seconds under constant change), never blocking the loop on disk I/O."""

    def __init__(self, storage, path: Path, interval: float = 1.0) -> None:
        self.storage = storage
        self.path = Path(path)
        self.interval = interval
        self._dirty = False
        self._task: asyncio.Task | None = None
        self._delay = interval
        storage.on_dirty(self.mark)

    def mark(self) -> None:
        self._dirty = True
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # not serving yet (restore); stop() flushes
            self._task = loop.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._delay)
        await self.flush()

    async def flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        started = time.monotonic()
        data = snapshot(self.storage)
        # a big cluster under constant change: keep snapshotting to a small share of the loop
        self._delay = max(self.interval, 10 * (time.monotonic() - started))
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, write_atomic, self.path, data)
        except OSError:
            self._dirty = True
            log.exception("could not write the state file %s", self.path)
            raise

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._dirty = True
        data = snapshot(self.storage)
        write_atomic(self.path, data)
