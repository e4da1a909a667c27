"""The server's Prometheus metrics, kept by prometheus_client in a registry of their own.

Each ServerMetrics has a private CollectorRegistry rather than the library's global REGISTRY,
so several servers in one process (the tests) never collide. prometheus_client's metrics are
thread-safe: the model thread observes batch sizes while the event loop observes requests.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# What generate_latest writes: the classic text format, which every Prometheus reads. (The
# library's CONTENT_TYPE_LATEST now names format 1.0.0, which it only writes, with name
# escaping, when a scraper asks for it; its own HTTP handlers answer this by default.)
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

MODEL_LABELS = ("model_name", "model_version")


class ServerMetrics:
    """The server's metrics; every inference_* series carries the model name and version.

    Label a metric with `.labels(**metrics.model, ...)` before observing it; a series appears
    on the page once first labelled (the load and warm-up gauges once the model has loaded).
    """

    def __init__(self, *, model_name: str, model_version: str, max_batch_size: int) -> None:
        self.registry = CollectorRegistry()
        self.model = {"model_name": model_name, "model_version": model_version}
        r = self.registry
        self.requests = Counter(
            "inference_requests_total",
            "HTTP requests handled, by endpoint and status code.",
            (*MODEL_LABELS, "endpoint", "code"),
            registry=r,
        )
        self.errors = Counter(
            "inference_request_errors_total",
            "Requests answered with an error, by endpoint, status code and reason.",
            (*MODEL_LABELS, "endpoint", "code", "reason"),
            registry=r,
        )
        self.latency = Histogram(
            "inference_request_duration_seconds",
            "Time from request received to response ready, by endpoint.",
            (*MODEL_LABELS, "endpoint"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "inference_in_flight_requests",
            "Requests being handled right now.",
            MODEL_LABELS,
            registry=r,
        )
        powers = {2**i for i in range(13) if 2**i <= max_batch_size}
        batch_buckets = sorted(powers | {max_batch_size})
        self.batch_size = Histogram(
            "inference_batch_size",
            "Instances in each batch the model ran (before padding).",
            MODEL_LABELS,
            buckets=batch_buckets,
            registry=r,
        )
        self.padded_batch_size = Histogram(
            "inference_padded_batch_size",
            "Batch size the model saw after padding to a warmed-up bucket.",
            MODEL_LABELS,
            buckets=batch_buckets,
            registry=r,
        )
        self.queue_wait = Histogram(
            "inference_queue_wait_seconds",
            "Time instances waited for their batch to start.",
            MODEL_LABELS,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.model_run = Histogram(
            "inference_model_run_seconds",
            "Time the model took per batch.",
            MODEL_LABELS,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queued = Gauge(
            "inference_queued_instances", "Instances waiting for a batch.", MODEL_LABELS, registry=r
        )
        self.load_seconds = Gauge(
            "inference_model_load_seconds", "Time to load the model.", MODEL_LABELS, registry=r
        )
        self.warmup_seconds = Gauge(
            "inference_model_warmup_seconds",
            "Time to warm up every batch bucket.",
            MODEL_LABELS,
            registry=r,
        )
        self.ready = Gauge(
            "inference_model_ready",
            "1 when the server is ready for traffic, else 0.",
            MODEL_LABELS,
            registry=r,
        )
        for gauge in (self.in_flight, self.queued, self.ready):
            gauge.labels(**self.model).set(0)
        process = ProcessCollector(registry=r)
        r.register(_ResourceCollector(process, started_at=time.time()))
        self._page = _WithoutCreated(r)

    def render(self) -> bytes:
        """The text exposition (CONTENT_TYPE), process_* series read fresh."""
        return generate_latest(self._page)


class _WithoutCreated(Collector):
    """The registry less the `_created` series prometheus_client adds to counters and
    histograms: the page keeps the series it always had (no 2 extra per series)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        for metric in self._registry.collect():
            created = metric.name + "_created"
            metric.samples = [s for s in metric.samples if s.name != created]
            yield metric


class _ResourceCollector(Collector):
    """Peak RSS (which ProcessCollector lacks), and getrusage's stand-ins for its series
    where there is no /proc to read (macOS)."""

    def __init__(self, process: ProcessCollector, *, started_at: float) -> None:
        self._started_at = started_at
        self._fallback = not process.collect()

    def collect(self) -> Iterable[Metric]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # KiB on Linux
        yield GaugeMetricFamily(
            "process_max_resident_memory_bytes", "Peak resident memory size.", value=peak
        )
        if not self._fallback:
            return
        yield CounterMetricFamily(
            "process_cpu_seconds",
            "User and system CPU time spent.",
            usage.ru_utime + usage.ru_stime,
        )
        yield GaugeMetricFamily("process_resident_memory_bytes", "Resident memory size.", peak)
        yield GaugeMetricFamily(
            "process_start_time_seconds", "Start time since the Unix epoch.", self._started_at
        )
