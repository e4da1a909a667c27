"""Guardrails, evaluated by Celery beat for every running experiment: when a treatment is worse
than control beyond a guardrail's margin with significance, the experiment is paused or rolled
back (aborted: all traffic to control) as that guardrail says. The step is an action of its own,
taken by the system, whose parameters carry the measured values, the threshold and the p-value,
so the audit log and the timeline say why, in numbers.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from controlplane.audit.models import OPEN_STATUSES, ActionStatus, AuditEvent
from controlplane.audit.services import action_enqueue, action_record

from ..analysis import load_arms
from ..models import Experiment, State
from ..results import guardrails_evaluate
from ..tasks import experiment_lifecycle_task

log = logging.getLogger(__name__)


def _step_pending(experiment: Experiment) -> bool:
    return AuditEvent.objects.filter(
        cluster=experiment.cluster,
        namespace=experiment.namespace,
        kind="experiment",
        name=experiment.name,
        verb__in=("pause", "abort", "conclude"),
        status__in=OPEN_STATUSES,
    ).exists()


def experiment_guardrails_check(*, experiment: Experiment) -> AuditEvent | None:
    """Evaluate, store the evaluation, and act on a breach; returns the action taken."""
    rows = guardrails_evaluate(experiment, load_arms(experiment))
    experiment.guardrail_status = {"at": timezone.now().isoformat(), "rows": rows}
    experiment.save(update_fields=["guardrail_status"])
    breached = [r for r in rows if r["breached"]]
    if not breached or experiment.state != State.RUNNING or _step_pending(experiment):
        return None
    # A rollback outranks a pause: the harsher step wins when both are breached.
    worst = next((r for r in breached if r["action"] == "rollback"), breached[0])
    verb = "abort" if worst["action"] == "rollback" else "pause"
    parameters = {
        "reason": f"guardrail: {worst['sentence']}",
        "guardrail": {
            k: worst[k]
            for k in (
                "metric",
                "treatment",
                "control",
                "control_value",
                "treatment_value",
                "increase",
                "max_increase",
                "p_value",
                "action",
            )
        },
    }
    with transaction.atomic():
        event = action_record(
            actor=None,
            cluster=experiment.cluster,
            namespace=experiment.namespace,
            kind="experiment",
            name=experiment.name,
            verb=verb,
            parameters=parameters,
            status=ActionStatus.PENDING,
        )
        AuditEvent.objects.filter(pk=event.pk).update(task=experiment_lifecycle_task.name)
        event_id = str(event.id)
        transaction.on_commit(
            lambda: action_enqueue(event_id=event_id, task_name=experiment_lifecycle_task.name)
        )
    log.warning("experiment %s: %s", experiment, parameters["reason"])
    return event


def experiments_guardrails_all() -> int:
    acted = 0
    running = Experiment.objects.filter(state=State.RUNNING).select_related("cluster")
    for experiment in running.prefetch_related("variants", "timeline"):
        if experiment.guardrails and experiment_guardrails_check(experiment=experiment):
            acted += 1
    return acted
