"""Results of one experiment from what was collected: per metric and treatment the lift with
its interval, p-values (fixed-horizon, Holm-adjusted, always-valid), the minimum-data gate,
the sample-ratio check and the guardrails. The statistics themselves are in stats.py.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.conf import settings

from . import stats
from .models import Experiment, MetricBucket, Outcome
from .validation import METRICS

LABELS = {
    "conversion": "conversion",
    "value": "the mean score",
    "error_rate": "the error rate",
    "latency_mean": "mean latency",
    "latency_p95": "p95 latency",
    "latency_p99": "p99 latency",
}
QUANTILES = {"latency_p95": 0.95, "latency_p99": 0.99}
# Looks at which the sequential test and the cumulative chart are evaluated, at most.
MAX_LOOKS = 48


@dataclass
class Arm:
    """What one variant collected, in time order."""

    buckets: list[MetricBucket] = field(default_factory=list)
    conversions: list[tuple[datetime, bool]] = field(default_factory=list)
    values: list[tuple[datetime, float]] = field(default_factory=list)


def load_arms(experiment: Experiment) -> dict[str, Arm]:
    arms = {v.name: Arm() for v in experiment.variants.all()}
    for bucket in MetricBucket.objects.filter(experiment=experiment).order_by("start"):
        if bucket.variant in arms and bucket.requests > 0:
            arms[bucket.variant].buckets.append(bucket)
    rows = Outcome.objects.filter(experiment=experiment).order_by("received", "id")
    for row in rows.values_list("variant", "received", "converted", "value"):
        variant, received, converted, value = row
        if variant not in arms:
            continue
        if converted is not None:
            arms[variant].conversions.append((received, converted))
        if value is not None:
            arms[variant].values.append((received, value))
    return arms


def _cut(items: list, until: datetime | None, key) -> list:
    """The items up to `until`; they are in time order, so this is a binary search."""
    return items if until is None else items[: bisect.bisect_right(items, until, key=key)]


def compare(metric: str, control: Arm, treatment: Arm, *, until=None, alpha=0.05):
    """(Result or None, units per arm) for the data up to `until`."""
    kind = METRICS[metric][0]
    if metric == "conversion":
        c = [v for _, v in _cut(control.conversions, until, lambda i: i[0])]
        t = [v for _, v in _cut(treatment.conversions, until, lambda i: i[0])]
        units = (len(c), len(t))
        if min(units) == 0:
            return None, units
        result = stats.compare_rates(
            x_control=sum(c), n_control=len(c), x_treatment=sum(t), n_treatment=len(t), alpha=alpha
        )
        return result, units
    if metric == "value":
        c = [v for _, v in _cut(control.values, until, lambda i: i[0])]
        t = [v for _, v in _cut(treatment.values, until, lambda i: i[0])]
        units = (len(c), len(t))
        if min(units) < 2:
            return None, units
        return stats.compare_means(control=c, treatment=t, alpha=alpha), units
    cb = _cut(control.buckets, until, lambda b: b.start)
    tb = _cut(treatment.buckets, until, lambda b: b.start)
    units = (int(sum(b.requests for b in cb)), int(sum(b.requests for b in tb)))
    if min(units) == 0:
        return None, units
    if kind == "rate":
        result = stats.compare_rates(
            x_control=round(sum(b.errors for b in cb)),
            n_control=units[0],
            x_treatment=round(sum(b.errors for b in tb)),
            n_treatment=units[1],
            alpha=alpha,
        )
        return result, units
    if len(cb) < 2 or len(tb) < 2:
        return None, units
    if kind == "ratio":
        result = stats.compare_ratios(
            control=([b.latency_sum for b in cb], [b.requests for b in cb]),
            treatment=([b.latency_sum for b in tb], [b.requests for b in tb]),
            alpha=alpha,
        )
        return result, units
    q = QUANTILES[metric]
    cq = [x for b in cb if (x := stats.histogram_quantile(q, b.latency_counts)) is not None]
    tq = [x for b in tb if (x := stats.histogram_quantile(q, b.latency_counts)) is not None]
    if len(cq) < 2 or len(tq) < 2:
        return None, units
    return stats.compare_means(control=cq, treatment=tq, alpha=alpha), units


def _times(metric: str, arms: list[Arm]) -> list[datetime]:
    if metric == "conversion":
        return sorted({_bucket_of(t) for a in arms for t, _ in a.conversions})
    if metric == "value":
        return sorted({_bucket_of(t) for a in arms for t, _ in a.values})
    return sorted({b.start for a in arms for b in a.buckets})


def _bucket_of(at: datetime) -> datetime:
    width = settings.EXPERIMENTS_BUCKET_SECONDS
    return datetime.fromtimestamp(at.timestamp() // width * width + width - 1e-6, tz=at.tzinfo)


def look_times(metric: str, arms: list[Arm]) -> list[datetime]:
    times = _times(metric, arms)
    if len(times) <= MAX_LOOKS:
        return times
    picks = np.linspace(0, len(times) - 1, MAX_LOOKS).round().astype(int)
    return [times[i] for i in sorted(set(picks.tolist()))]


def weights_at(timeline: list, at: datetime) -> dict[str, int]:
    """The split in force at `at`, from the timeline's recorded weights."""
    times = [entry.at for entry in timeline]
    i = bisect.bisect_right(times, at) - 1
    return timeline[max(i, 0)].weights if timeline else {}


def srm(experiment: Experiment, arms: dict[str, Arm], timeline: list) -> dict:
    """Observed units per variant against the split in force when each arrived."""
    names = list(arms)
    observed = dict.fromkeys(names, 0.0)
    expected = dict.fromkeys(names, 0.0)
    source = "requests" if any(a.buckets for a in arms.values()) else "outcomes"
    for name, arm in arms.items():
        if source == "requests":
            units = [(b.start, b.requests) for b in arm.buckets]
        else:
            units = [(t, 1.0) for t, _ in arm.conversions + arm.values]
        for at, count in units:
            observed[name] += count
            split = weights_at(timeline, at)
            total = sum(split.values()) or 1
            for other in names:
                expected[other] += count * split.get(other, 0) / total
    p = stats.srm_test([observed[n] for n in names], [expected[n] for n in names])
    flagged = p < settings.EXPERIMENTS_SRM_ALPHA
    return {
        "source": source,
        "observed": {n: round(observed[n]) for n in names},
        "expected": {n: round(expected[n], 1) for n in names},
        "p_value": p,
        "threshold": settings.EXPERIMENTS_SRM_ALPHA,
        "flagged": flagged,
        "sentence": (
            f"Sample ratio mismatch: the {source} per variant differ from the split "
            f"(chi-squared p = {p:.2g} < {settings.EXPERIMENTS_SRM_ALPHA}); the assignment is "
            "suspect, so treat the results with caution."
            if flagged
            else f"No sample ratio mismatch (chi-squared p = {p:.2g} on {source})."
        ),
    }


def available_metrics(experiment: Experiment, arms: dict[str, Arm]) -> list[str]:
    has_buckets = any(a.buckets for a in arms.values())
    has = {
        "conversion": any(a.conversions for a in arms.values()),
        "value": any(a.values for a in arms.values()),
        "error_rate": has_buckets,
        "latency_mean": has_buckets,
        "latency_p95": has_buckets,
        "latency_p99": has_buckets,
    }
    ordered = [experiment.primary_metric] + [m for m in METRICS if m != experiment.primary_metric]
    return [m for m in ordered if m == experiment.primary_metric or has[m]]
