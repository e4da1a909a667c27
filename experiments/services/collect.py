"""Sample every variant's pods of a running experiment through the API server's pod proxy
and add what they served since the last sample to the current time bucket.

One experiment is sampled by one worker at a time (its row is locked for the cycle; a cycle
that finds it locked skips it), so the same delta is never counted twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from controlplane.kube import resources, workloads
from controlplane.kube.errors import KubeError
from controlplane.kube.podproxy import pod_proxy_get

from ..collect import Counters, delta, parse_counters
from ..models import Experiment, MetricBucket, PodCounters, State, Variant

log = logging.getLogger(__name__)


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
    ids = list(Experiment.objects.filter(state=State.RUNNING).values_list("pk", flat=True))
    return {str(pk): experiment_collect(experiment_id=pk, now=now) for pk in ids}
