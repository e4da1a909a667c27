"""Dynamic batching on one dedicated model thread.

Handlers on the event loop parse requests into numpy arrays and submit them; the model thread
groups compatible submissions (same signature, same per-instance shapes) into one batch of up to
MAX_BATCH_SIZE instances, fits it to a warmed-up bucket size (trimming the last requests off to
the next batch, or padding when whole requests cannot make a bucket), runs the model and hands
each submitter its slice. One thread runs the model so TensorFlow's own pools do the parallel
math without contention, and the event loop never blocks on inference.

The thread waits up to BATCH_TIMEOUT_MS for more work only while requests it has been told
about are still being received and parsed; with nothing else on the way it runs at once, so a
lone request pays no batching delay.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from inference.config import Settings
from inference.errors import ApiError, bad_request, unavailable
from inference.metrics import ServerMetrics

log = logging.getLogger("inference.batching")

LOADING, WARMING, READY, FAILED, STOPPED = "loading", "warming", "ready", "failed", "stopped"


@dataclass(eq=False)
class _Work:
    signature: str
    inputs: dict[str, np.ndarray]
    size: int
    key: tuple
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.monotonic)


_STOP = object()


class Ticket:
    """A request announced to the worker; withdrawing twice is harmless."""

    def __init__(self, worker: ModelWorker) -> None:
        self._worker = worker
        self._open = True

    def withdraw(self) -> None:
        if self._open:
            self._open = False
            self._worker._withdraw()


class ModelWorker:
    """Owns the model: loads and warms it up, then runs batches until stopped."""

    def __init__(
        self,
        *,
        settings: Settings,
        metrics: ServerMetrics,
        load: Callable[[], object],
        on_state: Callable[[str], None] = lambda state: None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.state = LOADING
        self.failure = ""
        self.model = None
        self._load = load
        self._on_state = on_state
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending: deque[_Work] = deque()
        self._lock = threading.Lock()
        self._queued_instances = 0
        self._announced = 0
        self._timeout = settings.batch_timeout_ms / 1000.0
        self._thread = threading.Thread(target=self._main, name="inference-model", daemon=True)

    # -- event-loop side ------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def announce(self) -> Ticket:
        """Note that a request bound for the model has started arriving.

        The ticket is withdrawn when the request is submitted; the handler also withdraws it
        when it ends, which is a no-op unless the request failed before submitting.
        """
        with self._lock:
            self._announced += 1
        return Ticket(self)

    def _withdraw(self) -> None:
        with self._lock:
            self._announced -= 1

    async def run(
        self, signature: str, inputs: dict[str, np.ndarray], *, ticket: Ticket | None = None
    ) -> dict[str, np.ndarray]:
        """Run `inputs` (arrays sharing their leading batch dimension) through the model."""
        try:
            futures = self._submit(signature, inputs)
        finally:
            if ticket is not None:
                ticket.withdraw()
        results = await asyncio.gather(*futures)
        if len(results) == 1:
            return results[0]
        return {k: np.concatenate([r[k] for r in results]) for k in results[0]}

    def _submit(self, signature: str, inputs: dict[str, np.ndarray]) -> list[asyncio.Future]:
        if self.state != READY:
            raise unavailable(f"model is not ready: {self.state}", reason="not_ready")
        size = next(iter(inputs.values())).shape[0]
        if size == 0:
            raise bad_request("the request holds no instances", reason="empty_batch")
        with self._lock:
            if self._queued_instances + size > self.settings.max_queued_instances:
                raise ApiError(
                    503,
                    f"server overloaded: {self._queued_instances} instances already queued "
                    f"(MAX_QUEUED_INSTANCES={self.settings.max_queued_instances})",
                    reason="overloaded",
                )
            self._queued_instances += size
        self.metrics.queued.labels(**self.metrics.model).inc(size)
        loop = asyncio.get_running_loop()
        limit = self.settings.max_batch_size
        futures = []
        key = (signature, *sorted((k, v.shape[1:], v.dtype.str) for k, v in inputs.items()))
        for start in range(0, size, limit):
            chunk = {k: v[start : start + limit] for k, v in inputs.items()}
            n = min(limit, size - start)
            future = loop.create_future()
            self._queue.put(_Work(signature, chunk, n, key, future, loop))
            futures.append(future)
        return futures

    def stop(self) -> None:
        """Finish the batch in progress, fail anything still queued, end the thread."""
        self._queue.put(_STOP)

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- model thread ---------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        self.state = state
        self.metrics.ready.labels(**self.metrics.model).set(1 if state == READY else 0)
        self._on_state(state)

    def _main(self) -> None:
        try:
            self.model = self._load()
            self.metrics.load_seconds.labels(**self.metrics.model).set(self.model.load_seconds)
            if self.settings.warmup:
                self._set_state(WARMING)
                self._warm_up()
            # TensorFlow and Keras leave a few hundred thousand long-lived Python objects;
            # every full garbage collection would walk them all, and parsing a JSON image
            # allocates enough containers to trigger collections constantly (measured: ~20 ms
            # per 128x128 request). Freezing moves them out of the collector's sight.
            gc.collect()
            gc.freeze()
        except Exception as exc:
            log.exception("model failed to load or warm up")
            self.failure = str(exc)
            self._set_state(FAILED)
            return
        self._set_state(READY)
        self._serve()
        self._set_state(STOPPED)

    def _warm_up(self) -> None:
        """Run every bucket size once so no client request pays a first-shape cost."""
        signature = self.model.default
        started = time.monotonic()
        shapes = {key: info.shape for key, info in signature.inputs.items()}
        if any(shape is None or None in shape[1:] for shape in shapes.values()):
            log.warning("not warming up: the default signature has dynamic per-instance shapes")
            return
        for size in self.settings.batch_buckets:
            inputs = {
                key: np.zeros((size, *shapes[key][1:]), signature.inputs[key].dtype)
                for key in shapes
            }
            signature.run(inputs)
        elapsed = time.monotonic() - started
        self.metrics.warmup_seconds.labels(**self.metrics.model).set(elapsed)
        log.info("warmed up batch sizes %s in %.2fs", list(self.settings.batch_buckets), elapsed)

    def _serve(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                break
            self._run(self._fit_to_bucket(batch))
        for work in itertools.chain(self._pending, self._drain_queue()):
            self._deliver(work, unavailable("server is shutting down", reason="shutting_down"))

    def _drain_queue(self):
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                yield item

    def _collect(self) -> list[_Work] | None:
        first = self._pending.popleft() if self._pending else self._queue.get()
        if first is _STOP:
            return None
        limit = self.settings.max_batch_size
        batch, size = [first], first.size
        kept: deque[_Work] = deque()
        for work in self._pending:
            if work.key == first.key and size + work.size <= limit:
                batch.append(work)
                size += work.size
            else:
                kept.append(work)
        self._pending = kept
        deadline = time.monotonic() + self._timeout
        while size < limit:
            remaining = deadline - time.monotonic()
            try:
                if remaining > 0 and self._announced > 0:
                    work = self._queue.get(timeout=remaining)
                else:
                    work = self._queue.get_nowait()
            except queue.Empty:
                break
            if work is _STOP:
                self._queue.put(_STOP)  # seen again by the next _collect, after this batch
                break
            if work.key == first.key and size + work.size <= limit:
                batch.append(work)
                size += work.size
            else:
                self._pending.append(work)
                if work.key == first.key:
                    break  # the batch is as full as it can get
        return batch

    def _fit_to_bucket(self, batch: list[_Work]) -> list[_Work]:
        """Trim the batch down to a bucket size when whole requests allow it.

        Padding 13 instances up to 16 burns three instances' worth of compute; running 12 now
        and putting the 13th first in line for the next batch wastes nothing, and under load
        the next batch fills up anyway. If no trim fits, the batch is padded instead.
        """
        size = sum(work.size for work in batch)
        buckets = self.settings.batch_buckets
        if size in buckets:
            return batch
        target = max((b for b in buckets if b <= size), default=0)
        chosen, leftover, total = [], [], 0
        for work in batch:
            if total + work.size <= target:
                chosen.append(work)
                total += work.size
            else:
                leftover.append(work)
        if total != target:
            return batch  # whole requests cannot make a bucket size: pad
        self._pending.extendleft(reversed(leftover))
        return chosen

    def _run(self, batch: list[_Work]) -> None:
        from inference.model import ModelInputError, ModelRunError

        started = time.monotonic()
        live = [work for work in batch if not work.future.cancelled()]
        size = sum(work.size for work in live)
        with self._lock:
            self._queued_instances -= sum(work.size for work in batch)
        self.metrics.queued.labels(**self.metrics.model).dec(sum(work.size for work in batch))
        if not live:
            return
        for work in live:
            self.metrics.queue_wait.labels(**self.metrics.model).observe(started - work.enqueued)
        padded = next((b for b in self.settings.batch_buckets if b >= size), size)
        signature = self.model.signatures[live[0].signature]
        inputs = {}
        for key in live[0].inputs:
            parts = [work.inputs[key] for work in live]
            if padded > size:
                parts.append(np.zeros((padded - size, *parts[0].shape[1:]), parts[0].dtype))
            inputs[key] = np.concatenate(parts) if len(parts) > 1 else parts[0]
        try:
            outputs = signature.run(inputs)
            for key, value in outputs.items():
                if value.ndim == 0 or value.shape[0] != padded:
                    raise ModelRunError(
                        f"output {key!r} has shape {list(value.shape)}, which is not batched "
                        f"along its first dimension ({padded} instances went in)"
                    )
        except ModelInputError as exc:
            error = bad_request(f"the model rejected the input: {exc}", reason="model_input")
            for work in live:
                self._deliver(work, error)
            return
        except Exception as exc:
            log.exception("model run failed on a batch of %d", size)
            error = ApiError(500, f"model run failed: {exc}", reason="model_error")
            for work in live:
                self._deliver(work, error)
            return
        finally:
            self.metrics.model_run.labels(**self.metrics.model).observe(time.monotonic() - started)
        self.metrics.batch_size.labels(**self.metrics.model).observe(size)
        self.metrics.padded_batch_size.labels(**self.metrics.model).observe(padded)
        offset = 0
        for work in live:
            end = offset + work.size
            self._deliver(work, {key: value[offset:end] for key, value in outputs.items()})
            offset = end

    @staticmethod
    def _deliver(work: _Work, result) -> None:
        def settle() -> None:
            if work.future.done():
                return
            if isinstance(result, BaseException):
                work.future.set_exception(result)
            else:
                work.future.set_result(result)

        try:
            work.loop.call_soon_threadsafe(settle)
        except RuntimeError:
            log.warning("event loop closed before a result could be delivered")
