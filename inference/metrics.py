"""A small, thread-safe Prometheus registry and its text exposition (format 0.0.4).

Written here rather than pulled in because the server needs three metric kinds and a lock;
the model thread observes batch sizes while the event loop observes requests.
"""

from __future__ import annotations

import math
import os
import resource
import threading
from collections.abc import Iterable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str], lock: threading.Lock):
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)
        self._lock = lock

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(labels)}")
        return tuple(str(labels[name]) for name in self.label_names)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def render(self) -> list[str]:
        lines = self.header()
        for key, value in sorted(self._values.items()):
            labels = _format_labels(self.label_names, key)
            lines.append(f"{self.name}{labels} {_format_value(value)}")
        return lines


class Gauge(Counter):
    kind = "gauge"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name, help_text, labels, lock, buckets: Iterable[float]) -> None:
        super().__init__(name, help_text, labels, lock)
        self.buckets = tuple(sorted(float(b) for b in buckets))
        # Per label set: [count per bucket (non-cumulative, plus +Inf), sum, count].
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        index = len(self.buckets)
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                index = i
                break
        with self._lock:
            counts, totals = self._series.setdefault(
                key, ([0] * (len(self.buckets) + 1), [0.0, 0.0])
            )
            counts[index] += 1
            totals[0] += value
            totals[1] += 1

    def snapshot(self, **labels: str) -> dict[float, int]:
        """Cumulative counts per upper bound (math.inf last), for tests and tools."""
        with self._lock:
            series = self._series.get(self._key(labels))
            counts = list(series[0]) if series else [0] * (len(self.buckets) + 1)
        cumulative, running = {}, 0
        for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
            running += count
            cumulative[bound] = running
        return cumulative

    def render(self) -> list[str]:
        lines = self.header()
        for key, (counts, totals) in sorted(self._series.items()):
            running = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                running += count
                le = f'le="{_format_value(bound)}"'
                labels = _format_labels(self.label_names, key, le)
                lines.append(f"{self.name}_bucket{labels} {running}")
            labels = _format_labels(self.label_names, key)
            lines.append(f"{self.name}_sum{labels} {_format_value(totals[0])}")
            lines.append(f"{self.name}_count{labels} {_format_value(totals[1])}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: list[_Metric] = []

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help_text, labels, self._lock))

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Gauge:
        return self._add(Gauge(name, help_text, labels, self._lock))

    def histogram(
        self, name: str, help_text: str, labels: Sequence[str], buckets: Iterable[float]
    ) -> Histogram:
        return self._add(Histogram(name, help_text, labels, self._lock, buckets))

    def _add(self, metric):
        if any(existing.name == metric.name for existing in self._metrics):
            raise ValueError(f"metric {metric.name} is already registered")
        self._metrics.append(metric)
        return metric

    def render(self) -> str:
        with self._lock:
            lines = [line for metric in self._metrics for line in metric.render()]
        return "\n".join(lines) + "\n"


MODEL_LABELS = ("model_name", "model_version")


class ServerMetrics:
    """The server's metrics; every series carries the model name and version."""

    def __init__(self, *, model_name: str, model_version: str, max_batch_size: int) -> None:
        self.registry = Registry()
        self.model = {"model_name": model_name, "model_version": model_version}
        r = self.registry
        self.requests = r.counter(
            "inference_requests_total",
            "HTTP requests handled, by endpoint and status code.",
            (*MODEL_LABELS, "endpoint", "code"),
        )
        self.errors = r.counter(
            "inference_request_errors_total",
            "Requests answered with an error, by endpoint, status code and reason.",
            (*MODEL_LABELS, "endpoint", "code", "reason"),
        )
        self.latency = r.histogram(
            "inference_request_duration_seconds",
            "Time from request received to response ready, by endpoint.",
            (*MODEL_LABELS, "endpoint"),
            LATENCY_BUCKETS,
        )
        self.in_flight = r.gauge(
            "inference_in_flight_requests",
            "Requests being handled right now.",
            MODEL_LABELS,
        )
        powers = {2**i for i in range(13) if 2**i <= max_batch_size}
        batch_buckets = sorted(powers | {max_batch_size})
        self.batch_size = r.histogram(
            "inference_batch_size",
            "Instances in each batch the model ran (before padding).",
            MODEL_LABELS,
            batch_buckets,
        )
        self.padded_batch_size = r.histogram(
            "inference_padded_batch_size",
            "Batch size the model saw after padding to a warmed-up bucket.",
            MODEL_LABELS,
            batch_buckets,
        )
        self.queue_wait = r.histogram(
            "inference_queue_wait_seconds",
            "Time instances waited for their batch to start.",
            MODEL_LABELS,
            LATENCY_BUCKETS,
        )
        self.model_run = r.histogram(
            "inference_model_run_seconds",
            "Time the model took per batch.",
            MODEL_LABELS,
            LATENCY_BUCKETS,
        )
        self.queued = r.gauge(
            "inference_queued_instances", "Instances waiting for a batch.", MODEL_LABELS
        )
        self.load_seconds = r.gauge(
            "inference_model_load_seconds", "Time to load the model.", MODEL_LABELS
        )
        self.warmup_seconds = r.gauge(
            "inference_model_warmup_seconds", "Time to warm up every batch bucket.", MODEL_LABELS
        )
        self.ready = r.gauge(
            "inference_model_ready", "1 when the server is ready for traffic, else 0.", MODEL_LABELS
        )
        for gauge in (self.in_flight, self.queued, self.ready):
            gauge.set(0, **self.model)

    def render(self) -> str:
        return self.registry.render()


def process_metrics(started_at: float) -> str:
    """The standard process_* series, read fresh at each scrape."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    try:
        with open("/proc/self/statm") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        rss = usage.ru_maxrss * 1024
    return (
        "# HELP process_cpu_seconds_total User and system CPU time spent.\n"
        "# TYPE process_cpu_seconds_total counter\n"
        f"process_cpu_seconds_total {usage.ru_utime + usage.ru_stime}\n"
        "# HELP process_resident_memory_bytes Resident memory size.\n"
        "# TYPE process_resident_memory_bytes gauge\n"
        f"process_resident_memory_bytes {rss}\n"
        "# HELP process_max_resident_memory_bytes Peak resident memory size.\n"
        "# TYPE process_max_resident_memory_bytes gauge\n"
        f"process_max_resident_memory_bytes {usage.ru_maxrss * 1024}\n"
        "# HELP process_start_time_seconds Start time since the Unix epoch.\n"
        "# TYPE process_start_time_seconds gauge\n"
        f"process_start_time_seconds {started_at}\n"
    )
