"""Writes on deployments. Each one is an action: role check, audit row, Celery task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError

from controlplane.audit.models import ActionStatus, AuditEvent
from controlplane.audit.pipeline import describe_error
from controlplane.audit.services import (
    action_check,
    action_record,
    action_submit,
    audit_invalid,
)
from controlplane.kube import resources
from controlplane.kube.errors import KubeError

from .tasks import deployment_scale_task

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster


def validate_replicas(value: object) -> int:
    """Replicas must be a whole number in 0..DEPLOYMENT_MAX_REPLICAS (a JSON integer)."""
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

    Refusals, invalid counts and missing deployments are audited and raised
    (PermissionDenied, ValidationError, kube NotFound/Unavailable) before anything is queued.
    """
    target = {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "deployment",
        "name": name,
        "verb": "scale",
    }
    parameters = {"replicas": replicas}
    action_check(**target, permission="scale", parameters=parameters, request_id=request_id)
    with audit_invalid(**target, parameters={"replicas": repr(replicas)}, request_id=request_id):
        validate_replicas(replicas)
    try:
        resources.deployment_get(cluster.connection(), namespace=namespace, name=name)
    except KubeError as exc:
        # NotFound becomes a 404; an unreachable cluster a 503. Either way nothing is queued.
        action_record(
            **target,
            parameters=parameters,
            status=ActionStatus.FAILED,
            error=describe_error(exc),
            request_id=request_id,
        )
        raise
    return action_submit(
        **target,
        permission="scale",
        parameters=parameters,
        task=deployment_scale_task,
        request_id=request_id,
    )
