"""Celery beat: sample the running experiments' pods (EXPERIMENTS_COLLECT_INTERVAL)."""

from celery import shared_task
from django.conf import settings

from ..services.collect import experiments_collect_all


@shared_task(
    name="experiments.tasks.collect.experiments_collect",
    ignore_result=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def experiments_collect() -> int:
    return len(experiments_collect_all())
