"""Celery tasks of the action pipeline itself (periodic, under Celery beat)."""

from celery import shared_task

from .services import action_sweep as _sweep


@shared_task(name="controlplane.audit.tasks.action_sweep", ignore_result=True)
def action_sweep() -> dict:
    return _sweep()
