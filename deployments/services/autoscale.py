"""Setting and removing a deployment's autoscaler: actions like scale (names, role, input,
existence, then the pipeline), ordered as one absolute state, "autoscaler", per deployment.

A PUT and a DELETE set the same state, so the last accepted of them decides, whichever order
their tasks run in. Nothing here talks to the cluster; the watcher's cache answers whether
the deployment exists, and what its spec predicts (a CPU target without CPU requests).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import redis

from controlplane.audit.services import action_check, action_submit, audit_invalid
from controlplane.kube.names import validate_object_names
from controlplane.live.cache import cached_object

from ..autoscalers import (
    autoscaler_brief,
    autoscaler_request_validate,
    request_warnings,
    scale_warning,
)
from ..tasks.autoscale import deployment_autoscaler_delete_task, deployment_autoscaler_set_task
from . import deployment_state_key, require_known_deployment

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.audit.models import AuditEvent
    from controlplane.clusters.models import Cluster

log = logging.getLogger(__name__)

STATE_FIELD = "autoscaler"


def _cached(*, cluster: Cluster, kind: str, namespace: str, name: str) -> dict | None:
    """The object as the watcher's cache holds it, or None (absent, or cache unreachable)."""
    try:
        found, _trusted = cached_object(
            cluster_name=cluster.name, kind=kind, namespace=namespace, name=name
        )
    except redis.RedisError as exc:
        log.warning("live cache unreachable: %s", exc)
        return None
    return found


def deployment_autoscaler_brief(*, cluster: Cluster, namespace: str, name: str) -> dict | None:
    """min/max/desired of the HPA managing deployment `name`, as the watcher's cache has it."""
    hpa = _cached(cluster=cluster, kind="horizontalpodautoscalers", namespace=namespace, name=name)
    return autoscaler_brief(hpa)


def _target(*, actor, cluster, namespace: str, name: str, verb: str) -> dict:
    return {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "deployment",
        "name": name,
        "verb": verb,
    }


def deployment_autoscaler_set(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    data: object,
    request_id: str | None = None,
) -> tuple[AuditEvent, list[str]]:
    """Create or replace the HPA of deployment `name`; returns (pending action, warnings).

    Refusals, in order: names (ValidationError), role "autoscale" (PermissionDenied), the body
    (ValidationError naming each field), a deployment the synced cache lacks (NotFound); each
    is audited with the parameters as sent.
    """
    validate_object_names(namespace=namespace, name=name)
    target = _target(actor=actor, cluster=cluster, namespace=namespace, name=name, verb="autoscale")
    parameters = dict(data) if isinstance(data, dict) else {"body": data}
    action_check(**target, permission="autoscale", parameters=parameters, request_id=request_id)
    with audit_invalid(**target, parameters=parameters, request_id=request_id):
        request = autoscaler_request_validate(data)
    require_known_deployment(target=target, parameters=parameters, request_id=request_id)
    deployment = _cached(cluster=cluster, kind="deployments", namespace=namespace, name=name)
    event = action_submit(
        **target,
        permission="autoscale",
        # The normalised request: the worker builds the HPA from exactly what was checked.
        parameters=request,
        task=deployment_autoscaler_set_task,
        state_key=deployment_state_key(
            cluster=cluster, namespace=namespace, name=name, field=STATE_FIELD
        ),
        request_id=request_id,
    )
    return event, request_warnings(request=request, deployment=deployment)


def deployment_autoscaler_delete(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    request_id: str | None = None,
) -> AuditEvent:
    """Remove the HPA of deployment `name` (a no-op, said so in the result, if there is none)."""
    validate_object_names(namespace=namespace, name=name)
    target = _target(
        actor=actor, cluster=cluster, namespace=namespace, name=name, verb="delete_autoscaler"
    )
    return action_submit(
        **target,
        permission="autoscale",
        parameters={},
        task=deployment_autoscaler_delete_task,
        state_key=deployment_state_key(
            cluster=cluster, namespace=namespace, name=name, field=STATE_FIELD
        ),
        request_id=request_id,
    )


def deployment_scale_warnings(*, cluster: Cluster, namespace: str, name: str) -> list[str]:
    """What a manual scale of `name` is told: an autoscaler manages it and will override it."""
    brief = deployment_autoscaler_brief(cluster=cluster, namespace=namespace, name=name)
    return [scale_warning(brief)] if brief else []
