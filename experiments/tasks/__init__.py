"""Celery tasks of experiments: each action task loads its action and calls a service."""

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import action_task

from ..services.apply import (
    experiment_record,
    experiment_remove,
    experiment_transition,
    experiment_weights_apply,
)
from ..services.outcomes import outcomes_record


@action_task
def experiment_create_task(event: AuditEvent) -> dict:
    return experiment_record(event)


@action_task
def experiment_lifecycle_task(event: AuditEvent) -> dict:
    return experiment_transition(event)


@action_task
def experiment_weights_task(event: AuditEvent) -> dict:
    return experiment_weights_apply(event)


@action_task
def experiment_delete_task(event: AuditEvent) -> dict:
    return experiment_remove(event)


@action_task
def experiment_feedback_task(event: AuditEvent) -> dict:
    return outcomes_record(event)


# Registered with Celery when the worker imports this package.
from . import collect, guardrails  # noqa: E402, F401
