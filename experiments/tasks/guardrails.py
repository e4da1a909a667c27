"""Celery beat: evaluate the running experiments' guardrails (EXPERIMENTS_GUARDRAIL_INTERVAL)."""

from celery import shared_task
from django.conf import settings


@shared_task(
    name="experiments.tasks.guardrails.experiments_guardrails_evaluate",
    ignore_result=True,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def experiments_guardrails_evaluate() -> int:
    from ..services.guardrails import experiments_guardrails_all

    return experiments_guardrails_all()
