"""What a simulated model-serving pod answers on /metrics, in the inference server's families,
written by prometheus_client.

Counters integrate the pod's share of its Services' scripted load over time, so they only grow
and their rate() equals the load; latencies follow an exponential distribution around the
scripted latencyMilliseconds; a scripted errorRatio of the requests are answered with code 500.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from sandbox.machinery.util import now, parse_time

# The inference server's latency buckets (inference/metrics.py), so dashboards read the same
# families from simulated pods as from real ones.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
DEFAULT_LATENCY_MS = 40.0
_MODEL = ["model_name", "model_version"]


class PrometheusExporter:
    """Keeps each serving pod's running totals, from its first scrape until the pod is deleted."""

    def __init__(self, usage: Any, api: Any) -> None:
        self.usage = usage
        # uid -> (at, requests, errors, seconds)
        self._totals: dict[str, tuple[float, float, float, float]] = {}
        api.subscribe("pods", self._forget_deleted)

    def text(self, pod: dict, at: float | None = None) -> str:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Scrape(list(self._families(pod, now() if at is None else at))))
        return generate_latest(registry).decode()

    def _families(self, pod: dict, at: float) -> Iterator[Metric]:
        uid = pod["metadata"].get("uid", "")
        rps, failing, latency_ms = 0.0, 0.0, DEFAULT_LATENCY_MS
        for load, share in self.usage.loads_for(pod):
            rps += share
            failing += share * load.get("errorRatio", 0.0)
            latency_ms = load.get("latencyMilliseconds", latency_ms)
        last_at, total, errors, latency_sum = self._totals.get(uid, (at, 0.0, 0.0, 0.0))
        elapsed = max(at - last_at, 0.0)
        served = rps * elapsed
        total += served
        errors += failing * elapsed
        latency_sum += served * latency_ms / 1000
        self._totals[uid] = (at, total, errors, latency_sum)
        model = list(_model_labels(pod))
        count = int(total)
        mean = latency_ms / 1000

        requests = CounterMetricFamily(
            "inference_requests",
            "HTTP requests handled, by endpoint and status code.",
            labels=[*_MODEL, "endpoint", "code"],
        )
        failed = int(errors)
        requests.add_metric([*model, "predict", "200"], count - failed)
        if failed:
            requests.add_metric([*model, "predict", "500"], failed)
        yield requests

        duration = HistogramMetricFamily(
            "inference_request_duration_seconds",
            "Time from request received to response ready, by endpoint.",
            labels=[*_MODEL, "endpoint"],
        )
        buckets = [(floatToGoString(b), _at_most(b, count, mean)) for b in LATENCY_BUCKETS]
        duration.add_metric(
            [*model, "predict"], buckets=[*buckets, ("+Inf", count)], sum_value=latency_sum
        )
        yield duration

        in_flight = GaugeMetricFamily(
            "inference_in_flight_requests", "Requests being handled right now.", labels=_MODEL
        )
        in_flight.add_metric(model, round(rps * mean))
        yield in_flight

        usage = self.usage.pod_usage(pod, at) or {}
        cpu_milli = sum(cpu for cpu, _ in usage.values())
        yield CounterMetricFamily(
            "process_cpu_seconds",
            "User and system CPU time spent.",
            value=cpu_milli / 1000 * max(at - _started(pod, at), 0.0),
        )
        yield GaugeMetricFamily(
            "process_resident_memory_bytes",
            "Resident memory size.",
            value=int(sum(mem for _, mem in usage.values())),
        )

    def _forget_deleted(self, event_type: str, pod: dict, old: dict | None) -> None:
        if event_type == "DELETED":
            self._totals.pop(pod["metadata"].get("uid", ""), None)


class _Scrape:
    """The families of one scrape, handed to a registry made for it."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


def _at_most(bound: float, count: int, mean: float) -> int:
    """Requests of `count` that took at most `bound` seconds, latencies exponential at `mean`."""
    return int(count * (1 - math.exp(-bound / mean))) if mean > 0 else count


def _model_labels(pod: dict) -> tuple[str, str]:
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    containers = pod["spec"].get("containers") or [{}]
    image = containers[0].get("image", "")
    name = (
        labels.get("model")
        or labels.get("app.kubernetes.io/name")
        or labels.get("app")
        or containers[0].get("name", "model")
    )
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    version = labels.get("version") or labels.get("app.kubernetes.io/version") or tag
    return name, version


def _started(pod: dict, at: float) -> float:
    starts = [
        parse_time(((c.get("state") or {}).get("running") or {}).get("startedAt"))
        for c in (pod.get("status") or {}).get("containerStatuses") or []
    ]
    starts = [s for s in starts if s is not None]
    return min(starts) if starts else at
