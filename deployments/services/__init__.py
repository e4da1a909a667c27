"""Writes on deployments. Each one is an action: role check, audit row, Celery task.

Nothing here talks to the cluster: the worker does. A request only consults the watcher's
cache, so that a deployment known not to exist is refused at once without cluster I/O.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from django.core.exceptions import ValidationError

from controlplane.audit.models import ActionStatus, AuditEvent
from controlplane.audit.pipeline import describe_error
from controlplane.audit.services import action_check, action_record, action_submit, audit_invalid
from controlplane.kube.errors import NotFound
from controlplane.kube.names import validate_object_names
from controlplane.live.cache import cached_object

from ..tasks import deployment_scale_task

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

log = logging.getLogger(__name__)

# A request body without the field at all (as opposed to null or a wrong type).
MISSING = object()


def validate_replicas(value: object) -> int:
    """Replicas must be a whole number in 0..DEPLOYMENT_MAX_REPLICAS (a JSON integer)."""
    if value is MISSING:
        raise ValidationError({"replicas": ["This field is required."]})
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({"replicas": ["A valid integer is required."]})
    if value < 0:
        raise ValidationError({"replicas": ["Ensure this value is greater than or equal to 0."]})
    limit = settings.DEPLOYMENT_MAX_REPLICAS
    if value > limit:
        raise ValidationError(
            {"replicas": [f"Ensure this value is less than or equal to {limit}."]}
        )
    return value


def deployment_state_key(*, cluster: Cluster, namespace: str, name: str, field: str) -> str:
    """The absolute state an action sets; the last accepted request for it wins."""
    return f"deployment/{cluster.name}/{namespace}/{name}/{field}"


def require_known_deployment(*, target: dict, parameters: dict, request_id: str | None) -> None:
    """Refuse (404, audited) a deployment the watcher's synced cache does not hold."""
    try:
        found, trusted = cached_object(
            cluster_name=target["cluster"].name,
            kind="deployments",
            namespace=target["namespace"],
            name=target["name"],
        )
    except redis.RedisError as exc:
        log.warning("live cache unreachable; the worker will find out: %s", exc)
        return
    if found is None and trusted:
        error = NotFound(
            f'deployments.apps "{target["name"]}" not found in namespace {target["namespace"]}'
        )
        action_record(
            **target,
            parameters=parameters,
            status=ActionStatus.FAILED,
            error=describe_error(error),
            request_id=request_id,
        )
        raise error


def deployment_scale(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    replicas: object,
    request_id: str | None = None,
) -> AuditEvent:
    """Ask for `name` to run `replicas` pods; returns the pending action.

    Names are checked first (ValidationError), then the role (PermissionDenied), then the
    count (ValidationError) and whether the deployment exists (NotFound, from the watcher's
    cache); each refusal is audited. `replicas` is MISSING when the request had no such field.
    """
    validate_object_names(namespace=namespace, name=name)
    target = {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "deployment",
        "name": name,
        "verb": "scale",
    }
    # Recorded as sent (JSON values), so the audit shows what the client really asked for.
    parameters = {} if replicas is MISSING else {"replicas": replicas}
    action_check(**target, permission="scale", parameters=parameters, request_id=request_id)
    with audit_invalid(**target, parameters=parameters, request_id=request_id):
        validate_replicas(replicas)
    require_known_deployment(target=target, parameters=parameters, request_id=request_id)
    return action_submit(
        **target,
        permission="scale",
        parameters=parameters,
        task=deployment_scale_task,
        state_key=deployment_state_key(
            cluster=cluster, namespace=namespace, name=name, field="replicas"
        ),
        request_id=request_id,
    )
