"""Sample every variant's pods of a running experiment through the API server's pod proxy
and add what they served since the last sample to the current time bucket.

One experiment is sampled by one worker at a time (its row is locked for the cycle; a cycle
that finds it locked skips it), so the same delta is never counted twice.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from controlplane.kube import resources, workloads
from controlplane.kube.errors import KubeError
from controlplane.kube.podproxy import pod_proxy_get

from .. import promql
from ..collect import NOT_TRAFFIC, Counters, delta, parse_counters
from ..models import Experiment, MetricBucket, PodCounters, State, Variant

log = logging.getLogger(__name__)
# The longest stretch one PromQL cycle covers (after an outage the gap is not back-filled).
COLLECT_WINDOW_MAX = 3600


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def variant_pods(conn, *, namespace: str, variant: Variant, pods: list[dict]) -> list[dict]:
    """The running pods the variant's deployment selects."""
    deployment = resources.deployment_get(conn, namespace=namespace, name=variant.deployment)
    selector = (deployment.get("spec") or {}).get("selector") or {}
    return [
        p
        for p in pods
        if _matches(selector, (p.get("metadata") or {}).get("labels") or {})
        and (p.get("status") or {}).get("phase") == "Running"
        and not (p.get("metadata") or {}).get("deletionTimestamp")
    ]


def bucket_start(at: datetime) -> datetime:
    width = settings.EXPERIMENTS_BUCKET_SECONDS
    return datetime.fromtimestamp(int(at.timestamp()) // width * width, tz=UTC)


def _add(experiment: Experiment, variant: str, start: datetime, served: Counters) -> None:
    bucket, _ = MetricBucket.objects.get_or_create(
        experiment=experiment, variant=variant, start=start
    )
    bucket.requests += served.requests
    bucket.errors += served.errors
    bucket.latency_sum += served.latency_sum
    counts = dict(bucket.latency_counts)
    for le, value in served.latency_counts.items():
        counts[le] = counts.get(le, 0.0) + value
    bucket.latency_counts = counts
    bucket.save()


def _record(experiment, variant: str, pod: dict, counters: Counters, now) -> Counters | None:
    """Store the pod's counters; returns the delta since its last read (None: first read)."""
    meta = pod["metadata"]
    previous = PodCounters.objects.filter(
        experiment=experiment, variant=variant, pod=meta["name"]
    ).first()
    served = None
    if previous is not None and previous.uid == meta.get("uid", ""):
        served = delta(
            counters,
            Counters(
                requests=previous.requests,
                errors=previous.errors,
                latency_sum=previous.latency_sum,
                latency_counts=previous.latency_counts,
            ),
        )
    PodCounters.objects.update_or_create(
        experiment=experiment,
        variant=variant,
        pod=meta["name"],
        defaults={
            "uid": meta.get("uid", ""),
            "at": now,
            "requests": counters.requests,
            "errors": counters.errors,
            "latency_sum": counters.latency_sum,
            "latency_counts": counters.latency_counts,
        },
    )
    return served


def experiment_collect(*, experiment_id: int, now: datetime | None = None) -> dict:
    """One sampling cycle of one experiment; returns what it read."""
    now = now or timezone.now()
    with transaction.atomic():
        experiment = (
            Experiment.objects.select_for_update(skip_locked=True)
            .filter(pk=experiment_id, state=State.RUNNING)
            .select_related("cluster")
            .first()
        )
        if experiment is None:
            return {"skipped": "not running, or being sampled by another worker"}
        conn = experiment.cluster.connection()
        start = bucket_start(now)
        summary: dict = {"pods": 0, "requests": 0.0, "errors": []}
        try:
            pods = workloads.pod_list(conn, namespace=experiment.namespace)
            for variant in experiment.variants.all():
                for pod in variant_pods(
                    conn, namespace=experiment.namespace, variant=variant, pods=pods
                ):
                    name = pod["metadata"]["name"]
                    try:
                        text = pod_proxy_get(
                            conn,
                            namespace=experiment.namespace,
                            pod=name,
                            port=settings.EXPERIMENTS_METRICS_PORT,
                            path=settings.EXPERIMENTS_METRICS_PATH,
                        )
                    except KubeError as exc:
                        # One pod that does not answer must not stop the others' samples.
                        summary["errors"].append(f"{variant.name}/{name}: {exc}")
                        continue
                    served = _record(experiment, variant.name, pod, parse_counters(text), now)
                    summary["pods"] += 1
                    if served is not None:
                        _add(experiment, variant.name, start, served)
                        summary["requests"] += served.requests
        except KubeError as exc:
            summary["errors"].append(str(exc))
        experiment.last_collected = now
        experiment.collection_error = "; ".join(summary["errors"])[:2000]
        experiment.save(update_fields=["last_collected", "collection_error"])
    if summary["errors"]:
        log.warning("experiment %s: sampling problems: %s", experiment, summary["errors"])
    return summary


def experiments_collect_all(*, now: datetime | None = None) -> dict:
    """One cycle for every running experiment: by PromQL where its cluster has a query API
    (EXPERIMENTS_PROMQL_URLS), else through the pod proxy."""
    now = now or timezone.now()
    out = {}
    running = Experiment.objects.filter(state=State.RUNNING).select_related("cluster")
    for experiment in running:
        base_url = promql.promql_url(experiment.cluster.name)
        if base_url:
            out[str(experiment.pk)] = experiment_collect_promql(
                experiment_id=experiment.pk, base_url=base_url, now=now
            )
        else:
            out[str(experiment.pk)] = experiment_collect(experiment_id=experiment.pk, now=now)
    return out


# PromQL ---------------------------------------------------------------------------------------


def _selector(namespace: str, deployment: str) -> str:
    # A Deployment's pods are named <deployment>-<ReplicaSet hash>-<suffix>.
    pods = re.escape(deployment).replace("\\", "\\\\") + "-[a-z0-9]+-[a-z0-9]+"
    not_traffic = "|".join(sorted(NOT_TRAFFIC))
    return f'namespace="{namespace}",pod=~"{pods}",endpoint!~"{not_traffic}"'


def served_promql(base_url: str, *, namespace: str, deployment: str, window: int, at: float):
    """What the deployment's pods served in the `window` seconds before `at`, by PromQL."""
    sel = _selector(namespace, deployment)
    total = f"sum(increase(inference_requests_total{{{sel}}}[{window}s]))"
    errors = f'sum(increase(inference_requests_total{{{sel},code=~"5.."}}[{window}s]))'
    latency = f"sum(increase(inference_request_duration_seconds_sum{{{sel}}}[{window}s]))"
    buckets = (
        f"sum by (le) (increase(inference_request_duration_seconds_bucket{{{sel}}}[{window}s]))"
    )

    def scalar(expr: str) -> float:
        rows = promql.query(base_url, expr, at=at)
        return rows[0][1] if rows else 0.0

    counts = {
        ("+Inf" if labels["le"] in ("+Inf", "Inf") else repr(float(labels["le"]))): value
        for labels, value in promql.query(base_url, buckets, at=at)
    }
    return Counters(
        requests=scalar(total),
        errors=scalar(errors),
        latency_sum=scalar(latency),
        latency_counts=counts,
    )


def experiment_collect_promql(*, experiment_id: int, base_url: str, now: datetime) -> dict:
    """One cycle by PromQL: the increase since the last cycle, per variant."""
    with transaction.atomic():
        experiment = (
            Experiment.objects.select_for_update(skip_locked=True)
            .filter(pk=experiment_id, state=State.RUNNING)
            .first()
        )
        if experiment is None:
            return {"skipped": "not running, or being sampled by another worker"}
        since = experiment.last_collected
        if since is None or since < (experiment.started or now):
            since = max(experiment.started or now, now - timedelta(seconds=COLLECT_WINDOW_MAX))
        window = int(min(max((now - since).total_seconds(), 1), COLLECT_WINDOW_MAX))
        summary: dict = {"source": "promql", "window": window, "requests": 0.0, "errors": []}
        start = bucket_start(now)
        for variant in experiment.variants.all():
            try:
                served = served_promql(
                    base_url,
                    namespace=experiment.namespace,
                    deployment=variant.deployment,
                    window=window,
                    at=now.timestamp(),
                )
            except promql.PromQLError as exc:
                summary["errors"].append(f"{variant.name}: {exc}")
                continue
            if served.requests > 0:
                _add(experiment, variant.name, start, served)
                summary["requests"] += served.requests
        experiment.last_collected = now
        experiment.collection_error = "; ".join(summary["errors"])[:2000]
        experiment.save(update_fields=["last_collected", "collection_error"])
    return summary
