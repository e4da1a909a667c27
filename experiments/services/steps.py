"""Lifecycle steps of an experiment: start (or resume), pause, abort, conclude. Each is checked
against the experiment's state when requested and again when the worker applies it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from controlplane.audit.models import AuditEvent
from controlplane.audit.services import action_submit, audit_invalid

from .. import tasks
from ..models import State
from ..validation import MISSING
from . import PERMISSION, PROMOTIONS, _begin, _require_state, experiment_find, require_experiment

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster


def experiment_start(
    *, actor: User, cluster: Cluster, namespace: str, name: str, request_id: str | None = None
) -> AuditEvent:
    """Start a draft (create its routing object) or resume a paused experiment."""
    found = experiment_find(cluster=cluster, namespace=namespace, name=name)
    verb = "resume" if found is not None and found.state == State.PAUSED else "start"
    return _lifecycle(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        name=name,
        verb=verb,
        parameters={},
        request_id=request_id,
    )


def experiment_pause(
    *, actor: User, cluster: Cluster, namespace: str, name: str, request_id: str | None = None
) -> AuditEvent:
    """All traffic to the control; collected data is kept."""
    return _lifecycle(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        name=name,
        verb="pause",
        parameters={},
        request_id=request_id,
    )


def experiment_abort(
    *, actor: User, cluster: Cluster, namespace: str, name: str, request_id: str | None = None
) -> AuditEvent:
    """All traffic back to the control, for good."""
    return _lifecycle(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        name=name,
        verb="abort",
        parameters={},
        request_id=request_id,
    )


def _lifecycle(*, actor, cluster, namespace, name, verb, parameters, request_id) -> AuditEvent:
    target = _begin(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        name=name,
        verb=verb,
        parameters=parameters,
        request_id=request_id,
    )
    experiment = require_experiment(target=target, parameters=parameters, request_id=request_id)
    _require_state(
        experiment=experiment,
        verb=verb,
        target=target,
        parameters=parameters,
        request_id=request_id,
    )
    return action_submit(
        **target,
        permission=PERMISSION,
        parameters=parameters,
        task=tasks.experiment_lifecycle_task,
        request_id=request_id,
    )


def experiment_conclude(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    winner: object = MISSING,
    promotion: object = MISSING,
    request_id: str | None = None,
) -> AuditEvent:
    """Conclude with `winner`: all traffic to it ("route"), or its image rolled out to the
    control's deployment through the deployments app ("rollout") and all traffic to control."""
    sent = {k: v for k, v in {"winner": winner, "promotion": promotion}.items() if v is not MISSING}
    target = _begin(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        name=name,
        verb="conclude",
        parameters=sent,
        request_id=request_id,
    )
    experiment = require_experiment(target=target, parameters=sent, request_id=request_id)
    names = [v.name for v in experiment.variants.all()]
    with audit_invalid(**target, parameters=sent, request_id=request_id):
        errors = {}
        if winner not in names:
            errors["winner"] = [f"Choose one of the variants: {', '.join(names)}."]
        chosen = "route" if promotion is MISSING else promotion
        if chosen not in PROMOTIONS:
            errors["promotion"] = [f"Choose one of: {', '.join(PROMOTIONS)}."]
        if errors:
            raise ValidationError(errors)
    _require_state(
        experiment=experiment,
        verb="conclude",
        target=target,
        parameters=sent,
        request_id=request_id,
    )
    parameters = {"winner": winner, "promotion": chosen}
    if chosen == "rollout":
        from .promote import promotion_submit

        parameters["rollout_action"] = promotion_submit(
            actor=actor, experiment=experiment, winner=winner, request_id=request_id
        )
    return action_submit(
        **target,
        permission=PERMISSION,
        parameters=parameters,
        task=tasks.experiment_lifecycle_task,
        request_id=request_id,
    )
