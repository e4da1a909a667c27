"""Celery tasks of the metrics: the beat tick fans out one sampling task per cluster."""

from celery import shared_task
from django.conf import settings

from controlplane.clusters.models import Cluster

from .sampling import metrics_sample, store_for


@shared_task(ignore_result=True)
def metrics_sample_all() -> None:
    interval = int(settings.METRICS_INTERVAL)
    for cluster_id in Cluster.objects.values_list("id", flat=True):
        # A tick nobody ran within the interval is stale: the next tick samples afresh.
        metrics_sample_cluster.apply_async((cluster_id,), expires=interval)


@shared_task(ignore_result=True, acks_late=False)
def metrics_sample_cluster(cluster_id: int) -> dict:
    cluster = Cluster.objects.filter(id=cluster_id).first()
    if cluster is None:
        return {"status": "gone"}
    result = metrics_sample(cluster=cluster)
    for hour in result.hours_to_compact:
        metrics_compact.delay(cluster_id, hour)
    return {"status": result.status, "seconds": result.seconds, "pods": result.pods}


@shared_task(ignore_result=True)
def metrics_compact(cluster_id: int, hour: int) -> int:
    cluster = Cluster.objects.filter(id=cluster_id).first()
    if cluster is None:
        return 0
    store = store_for(cluster.name)
    # Two cycles may both see the hour unfinished; the second finds it done.
    if hour not in store.hours_to_compact(now=(hour + 1) * 3600):
        return 0
    return store.compact(
        hour=hour,
        interval=int(settings.METRICS_INTERVAL),
        retention=int(settings.METRICS_RETENTION),
    )
