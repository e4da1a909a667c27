"""Deploying a model (a Deployment and its Service) and deleting one: actions like scale.

Input is checked here, in the request, with the request serializers (400 naming each field,
audited as failed, nothing created); the worker creates or deletes. Neither is an
absolute-state action: creating twice is refused by the cluster, deleting twice finds nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from rest_framework import serializers

from controlplane.accounts.selectors import user_can
from controlplane.audit.services import action_check, action_submit, audit_invalid
from controlplane.kube.manifests import model_manifests
from controlplane.kube.names import validate_object_names

from ..deploy_serializers import DeleteRequestSerializer, DeployRequestSerializer
from ..tasks.deploy import deployment_create_task, deployment_delete_task
from . import require_known_deployment

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.audit.models import AuditEvent
    from controlplane.clusters.models import Cluster


def _flatten(errors, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as {"resources.limits.cpu": [...]}: each key names one field."""
    if isinstance(errors, dict):
        flat: dict[str, list[str]] = {}
        for key, value in errors.items():
            name = key if key != "non_field_errors" or not prefix else ""
            path = ".".join(p for p in (prefix, str(name)) if p)
            flat.update(_flatten(value, path or "non_field_errors"))
        return flat
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        flat = {}
        for index, value in enumerate(errors):
            flat.update(_flatten(value, f"{prefix}.{index}"))
        return flat
    messages = errors if isinstance(errors, list) else [errors]
    return {prefix or "non_field_errors": [str(m) for m in messages]}


def _validated(serializer: serializers.Serializer) -> dict:
    if not serializer.is_valid():
        raise ValidationError(_flatten(serializer.errors))
    return serializer.validated_data


def deploy_validate(*, spec: object) -> dict:
    """The checked, normalised deploy request (ValidationError naming each bad field)."""
    if not isinstance(spec, dict):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    data = _validated(DeployRequestSerializer(data=spec))
    # Plain JSON types throughout: this is what the audit records and the worker reads.
    data = {key: value for key, value in data.items() if value is not None}
    for key in ("resources", "readiness_probe", "liveness_probe", "service"):
        if key in data and data[key] is not None:
            data[key] = _plain(data[key])
    data["env"] = dict(data.get("env") or {})
    return data


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _body_name(spec: object) -> str:
    name = spec.get("name") if isinstance(spec, dict) else None
    return name[:253] if isinstance(name, str) else ""


def deployment_create(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    spec: object,
    request_id: str | None = None,
) -> AuditEvent:
    """Ask for a model to be deployed (Deployment + Service); returns the pending action.

    The namespace is checked first, then the role (PermissionDenied, audited), then the
    request (ValidationError naming each field, audited as failed).
    """
    validate_object_names(namespace=namespace)
    target = {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "deployment",
        "name": _body_name(spec),
        "verb": "deploy",
    }
    raw = spec if isinstance(spec, dict) else {"body": spec}
    action_check(**target, permission="deploy", parameters=raw, request_id=request_id)
    with audit_invalid(**target, parameters=raw, request_id=request_id):
        checked = deploy_validate(spec=spec)
    checked.pop("dry_run", None)
    return action_submit(
        **target,
        permission="deploy",
        parameters=checked,
        task=deployment_create_task,
        request_id=request_id,
    )


def deployment_preview(
    *, actor: User, cluster: Cluster, namespace: str, spec: object
) -> tuple[dict, dict | None]:
    """The objects a deploy request would create, for a user who may deploy (not audited:
    nothing changes)."""
    validate_object_names(namespace=namespace)
    if not user_can(user=actor, permission="deploy", cluster=cluster, namespace=namespace):
        raise PermissionDenied(f"You do not have the 'deploy' permission on {cluster.name}.")
    checked = deploy_validate(spec=spec)
    return model_manifests(namespace=namespace, spec=checked)


def deployment_delete(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    options: object = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Ask for a deployment to be deleted, with `options` {"cascade", "propagation"}."""
    validate_object_names(namespace=namespace, name=name)
    target = {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "deployment",
        "name": name,
        "verb": "delete",
    }
    raw = options if isinstance(options, dict) else {}
    action_check(**target, permission="deploy", parameters=raw, request_id=request_id)
    with audit_invalid(**target, parameters=raw, request_id=request_id):
        if options is not None and not isinstance(options, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        checked = dict(_validated(DeleteRequestSerializer(data=raw)))
    require_known_deployment(target=target, parameters=checked, request_id=request_id)
    return action_submit(
        **target,
        permission="deploy",
        parameters=checked,
        task=deployment_delete_task,
        request_id=request_id,
    )
