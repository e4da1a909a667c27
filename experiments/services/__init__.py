"""Writes on experiments. Each one is an action: names, role, input, then the action for the
worker, every refusal audited. Nothing here talks to the cluster; the worker does
(experiments/services/apply.py), and a request consults only the database and the watcher's
cache.

Roles: changing an experiment needs "experiment" (engineer); reading needs "view" (viewer).

Ordering: a change of weights is an absolute state ("weights"): the last accepted request
decides, an older one arriving late is superseded. Lifecycle steps (start, pause, conclude,
abort) are transitions checked against the state when requested and again when the worker
applies them, so a stale one fails with the state it found instead of undoing a newer step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controlplane.audit.models import ActionStatus, AuditEvent
from controlplane.audit.pipeline import describe_error
from controlplane.audit.services import action_check, action_record, action_submit, audit_invalid
from controlplane.kube.errors import AlreadyExists, Conflict, KubeError, NotFound
from controlplane.kube.names import validate_object_names

from .. import tasks
from ..lifecycle import TRANSITIONS
from ..models import Experiment
from ..validation import MISSING, validate_experiment, validate_weights

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

PERMISSION = "experiment"
PROMOTIONS = ("route", "rollout")


def experiment_target(*, actor, cluster, namespace: str, name: str, verb: str) -> dict:
    return {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "experiment",
        "name": name,
        "verb": verb,
    }


def experiment_state_key(*, cluster: Cluster, namespace: str, name: str, field: str) -> str:
    return f"experiment/{cluster.name}/{namespace}/{name}/{field}"


def refuse(*, target: dict, parameters: dict, request_id: str | None, error: KubeError):
    """Audit a request refused for the experiment's own state, then raise the error."""
    action_record(
        **target,
        parameters=parameters,
        status=ActionStatus.FAILED,
        error=describe_error(error),
        request_id=request_id,
    )
    raise error


def experiment_find(*, cluster: Cluster, namespace: str, name: str) -> Experiment | None:
    return (
        Experiment.objects.filter(cluster=cluster, namespace=namespace, name=name)
        .prefetch_related("variants")
        .first()
    )


def require_experiment(*, target: dict, parameters: dict, request_id: str | None) -> Experiment:
    experiment = experiment_find(
        cluster=target["cluster"], namespace=target["namespace"], name=target["name"]
    )
    if experiment is None:
        refuse(
            target=target,
            parameters=parameters,
            request_id=request_id,
            error=NotFound(
                f'experiment "{target["name"]}" not found in namespace {target["namespace"]}'
            ),
        )
    return experiment


def _begin(*, actor, cluster, namespace, name, verb, parameters, request_id) -> dict:
    validate_object_names(namespace=namespace, name=name)
    target = experiment_target(
        actor=actor, cluster=cluster, namespace=namespace, name=name, verb=verb
    )
    action_check(**target, permission=PERMISSION, parameters=parameters, request_id=request_id)
    return target


def experiment_create(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    body: object,
    request_id: str | None = None,
) -> AuditEvent:
    """Create a draft experiment from `body`; returns the pending action."""
    name = body.get("name", "") if isinstance(body, dict) else ""
    name = name if isinstance(name, str) else ""
    parameters = body if isinstance(body, dict) else {}
    validate_object_names(namespace=namespace)
    target = experiment_target(
        actor=actor, cluster=cluster, namespace=namespace, name=name, verb="create"
    )
    action_check(**target, permission=PERMISSION, parameters=parameters, request_id=request_id)
    with audit_invalid(**target, parameters=parameters, request_id=request_id):
        cleaned = validate_experiment(body, cluster=cluster, namespace=namespace)
    if experiment_find(cluster=cluster, namespace=namespace, name=cleaned["name"]):
        refuse(
            target=target,
            parameters=cleaned,
            request_id=request_id,
            error=AlreadyExists(
                f'experiment "{cleaned["name"]}" already exists in namespace {namespace}'
            ),
        )
    return action_submit(
        **target,
        permission=PERMISSION,
        parameters=cleaned,
        task=tasks.experiment_create_task,
        state_key=experiment_state_key(
            cluster=cluster, namespace=namespace, name=cleaned["name"], field="definition"
        ),
        request_id=request_id,
    )


def _require_state(
    *, experiment: Experiment, verb: str, target: dict, parameters: dict, request_id
) -> None:
    if experiment.state not in TRANSITIONS[verb]:
        refuse(
            target=target,
            parameters=parameters,
            request_id=request_id,
            error=Conflict(
                f"cannot {verb.replace('_', ' ')} an experiment that is {experiment.state}"
            ),
        )


def experiment_weights_set(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    weights: object = MISSING,
    request_id: str | None = None,
) -> AuditEvent:
    """New traffic weights (recorded on the timeline; applied at once while running)."""
    sent = {} if weights is MISSING else {"weights": weights}
    target = _begin(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        name=name,
        verb="set_weights",
        parameters=sent,
        request_id=request_id,
    )
    experiment = require_experiment(target=target, parameters=sent, request_id=request_id)
    with audit_invalid(**target, parameters=sent, request_id=request_id):
        cleaned = validate_weights(weights, variants=[v.name for v in experiment.variants.all()])
    _require_state(
        experiment=experiment,
        verb="set_weights",
        target=target,
        parameters=sent,
        request_id=request_id,
    )
    return action_submit(
        **target,
        permission=PERMISSION,
        parameters={"weights": cleaned},
        task=tasks.experiment_weights_task,
        state_key=experiment_state_key(
            cluster=cluster, namespace=namespace, name=name, field="weights"
        ),
        request_id=request_id,
    )


def experiment_delete(
    *, actor: User, cluster: Cluster, namespace: str, name: str, request_id: str | None = None
) -> AuditEvent:
    """Delete the routing object and the experiment with its data."""
    target = _begin(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        name=name,
        verb="delete",
        parameters={},
        request_id=request_id,
    )
    experiment = require_experiment(target=target, parameters={}, request_id=request_id)
    return action_submit(
        **target,
        permission=PERMISSION,
        parameters={"routing": experiment.routing},
        task=tasks.experiment_delete_task,
        state_key=experiment_state_key(
            cluster=cluster, namespace=namespace, name=name, field="definition"
        ),
        request_id=request_id,
    )


# Lifecycle steps (start, resume, pause, abort, conclude) live in steps.py.
from .steps import (  # noqa: E402
    experiment_abort,
    experiment_conclude,
    experiment_pause,
    experiment_start,
)

__all__ = [
    "experiment_abort",
    "experiment_conclude",
    "experiment_create",
    "experiment_delete",
    "experiment_pause",
    "experiment_start",
    "experiment_weights_set",
]
