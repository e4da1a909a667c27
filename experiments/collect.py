"""Counters read from a serving pod's Prometheus text, and the deltas between two reads.

The families are the inference server's (inference/metrics.py), which the sandbox's simulated
pods also write: inference_requests_total{code}, and the histogram
inference_request_duration_seconds{le}. Requests to the server's own endpoints (metrics,
health) are not traffic and are left out. A counter that went down was reset (the container
restarted): its new value is the delta, as Prometheus' rate() treats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "inference_requests"
DURATION = "inference_request_duration_seconds"
NOT_TRAFFIC = {"metrics", "health", "healthz", "ready", "readyz", "livez"}


@dataclass
class Counters:
    requests: float = 0.0
    errors: float = 0.0
    latency_sum: float = 0.0
    latency_counts: dict[str, float] = field(default_factory=dict)


def _traffic(labels: dict) -> bool:
    return labels.get("endpoint", "") not in NOT_TRAFFIC


def parse_counters(text: str) -> Counters:
    """The pod's cumulative counters, summed over models and endpoints that are traffic."""
    out = Counters()
    for family in text_string_to_metric_families(text):
        # Written with or without the _total suffix on its TYPE line, as exporters differ.
        if family.name in (REQUESTS, f"{REQUESTS}_total"):
            for sample in family.samples:
                if sample.name.endswith("_total") and _traffic(sample.labels):
                    out.requests += sample.value
                    if str(sample.labels.get("code", "")).startswith("5"):
                        out.errors += sample.value
        elif family.name == DURATION:
            for sample in family.samples:
                if not _traffic(sample.labels):
                    continue
                if sample.name.endswith("_bucket"):
                    le = _bound(sample.labels["le"])
                    out.latency_counts[le] = out.latency_counts.get(le, 0.0) + sample.value
                elif sample.name.endswith("_sum"):
                    out.latency_sum += sample.value
    return out


def _bound(le: str) -> str:
    return "+Inf" if le in ("+Inf", "Inf", "inf") else repr(float(le))


def delta(current: Counters, previous: Counters) -> Counters:
    """What was served between two reads of one pod's counters."""
    if current.requests < previous.requests or current.latency_sum < previous.latency_sum:
        return current  # reset
    counts = {
        le: max(value - previous.latency_counts.get(le, 0.0), 0.0)
        for le, value in current.latency_counts.items()
    }
    return Counters(
        requests=current.requests - previous.requests,
        errors=max(current.errors - previous.errors, 0.0),
        latency_sum=current.latency_sum - previous.latency_sum,
        latency_counts=counts,
    )
