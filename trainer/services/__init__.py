"""Writes on training runs: launch (also as a clone or a rerun), cancel. Each is an action:
role check, audit row, Celery task. Deploying a run's model is in services/deploy.py.

A launch records its TrainingRun in the request, in the same transaction as the action, so
the run has an id (its Job's label) before the worker creates the Job, and a launch refused
for bad input records neither. Nothing here talks to the cluster: the worker does.
"""

from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from controlplane.audit.redaction import REDACTED
from controlplane.audit.services import action_check, action_submit, audit_invalid
from controlplane.kube.names import validate_object_names

from ..manifests import output_from_args
from ..models import FINISHED_STATUSES, TrainingRun
from ..serializers import (
    GENERATED_SUFFIX,
    SECRET_OPTION,
    CancelRequestSerializer,
    LaunchRequestSerializer,
    RerunRequestSerializer,
)
from ..tasks import trainingrun_cancel_task, trainingrun_launch_task

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.audit.models import AuditEvent
    from controlplane.clusters.models import Cluster

KIND = "job"
PERMISSION = "train"
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
# What a rerun does not copy from its parent: the Job's identity and the lineage.
_IDENTITY = ("name", "generate_name", "parent", "job_name", "run")


def _flatten(errors, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as {"args.2": [...]}: each key names one field."""
    if isinstance(errors, dict):
        flat: dict[str, list[str]] = {}
        for key, value in errors.items():
            path = ".".join(p for p in (prefix, str(key)) if p)
            flat.update(_flatten(value, path))
        return flat
    messages = errors if isinstance(errors, list) else [errors]
    if messages and all(isinstance(m, dict | list) for m in messages):
        flat = {}
        for index, value in enumerate(messages):
            if value:
                flat.update(_flatten(value, f"{prefix}.{index}"))
        return flat
    return {prefix or "non_field_errors": [str(m) for m in messages]}


def checked(serializer) -> dict:
    if not serializer.is_valid():
        raise ValidationError(_flatten(serializer.errors))
    return dict(serializer.validated_data)


def launch_validate(*, spec: object) -> dict:
    """The checked launch request as plain JSON (ValidationError naming each bad field)."""
    if not isinstance(spec, dict):
        raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
    data = checked(LaunchRequestSerializer(data=spec))
    return {key: value for key, value in data.items() if value not in (None, "")}


def _job_name(data: dict) -> str:
    if data.get("name"):
        return data["name"]
    prefix = data.get("generate_name") or "train-"
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(GENERATED_SUFFIX))
    return f"{prefix}{suffix}"


def _output_uri(data: dict, *, namespace: str, job_name: str) -> str:
    from_args = output_from_args(data.get("args") or [])
    given = data.get("output_uri") or ""
    if given and from_args and given != from_args:
        raise ValidationError(
            {"output_uri": [f"differs from the --output in args ({from_args}); send one"]}
        )
    return given or from_args or f"{settings.TRAINING_OUTPUT_ROOT}/{namespace}/{job_name}"


def _recordable(spec: object) -> dict:
    """The request as the audit may keep it: a secret-looking option's value is replaced (the
    request is refused for it, but the refusal is recorded with what was sent)."""
    if not isinstance(spec, dict):
        return {"body": spec}
    args = spec.get("args")
    if not isinstance(args, list):
        return spec
    kept, hide_next = [], False
    for arg in args:
        if hide_next:
            kept.append(REDACTED)
            hide_next = False
        elif isinstance(arg, str) and SECRET_OPTION.match(arg):
            option, has_value, _ = arg.partition("=")
            kept.append(f"{option}={REDACTED}" if has_value else option)
            hide_next = not has_value
        else:
            kept.append(arg)
    return {**spec, "args": kept}


def run_get(*, cluster: Cluster, namespace: str, run_id: object) -> TrainingRun:
    try:
        return TrainingRun.objects.get(cluster=cluster, namespace=namespace, id=int(run_id))
    except (TrainingRun.DoesNotExist, TypeError, ValueError):
        raise Http404(f"No training run {run_id} in {cluster.name}/{namespace}") from None


def _parent(*, cluster: Cluster, namespace: str, parent_id: int | None) -> TrainingRun | None:
    if parent_id is None:
        return None
    found = TrainingRun.objects.filter(cluster=cluster, namespace=namespace, id=parent_id).first()
    if found is None:
        raise ValidationError({"parent": [f"no training run {parent_id} in {namespace}"]})
    return found


def trainingrun_launch(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    spec: object,
    relation: str = "",
    request_id: str | None = None,
) -> tuple[TrainingRun, AuditEvent]:
    """Record a run and ask for its Job; returns the run and the pending action.

    The namespace is checked first, then the role (PermissionDenied, audited), then the
    request (ValidationError naming each field, audited as failed, nothing recorded).
    """
    validate_object_names(namespace=namespace)
    name = spec.get("name") if isinstance(spec, dict) else None
    target = {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": KIND,
        "name": name[:253] if isinstance(name, str) else "",
        "verb": "launch",
    }
    raw = _recordable(spec)
    action_check(**target, permission=PERMISSION, parameters=raw, request_id=request_id)
    with audit_invalid(**target, parameters=raw, request_id=request_id):
        data = launch_validate(spec=spec)
        parent = _parent(cluster=cluster, namespace=namespace, parent_id=data.get("parent"))
        job_name = _job_name(data)
        if TrainingRun.objects.filter(
            cluster=cluster, namespace=namespace, job_name=job_name
        ).exists():
            raise ValidationError({"name": [f"a training run already uses the Job {job_name}"]})
        output_uri = _output_uri(data, namespace=namespace, job_name=job_name)
    target["name"] = job_name
    with transaction.atomic():
        run = TrainingRun.objects.create(
            cluster=cluster,
            namespace=namespace,
            job_name=job_name,
            created_by=actor if getattr(actor, "pk", None) else None,
            created_by_name=getattr(actor, "username", "") or "",
            parameters=data,
            output_uri=output_uri,
            parent=parent,
            relation=relation or ("clone" if parent else ""),
        )
        event = action_submit(
            **target,
            permission=PERMISSION,
            parameters={**data, "run": run.id, "job_name": job_name, "output_uri": output_uri},
            task=trainingrun_launch_task,
            request_id=request_id,
        )
        run.launch_action = event
        run.save(update_fields=["launch_action"])
    return run, event


def trainingrun_rerun(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    run_id: object,
    options: object = None,
    request_id: str | None = None,
) -> tuple[TrainingRun, AuditEvent]:
    """Launch a run's parameters again, as its child. With `resume` (the default) the child
    writes to the same output URI with --resume, so it continues from the last checkpoint;
    without, it starts over in an output of its own."""
    validate_object_names(namespace=namespace)
    parent = run_get(cluster=cluster, namespace=namespace, run_id=run_id)
    target = {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": KIND,
        "name": parent.job_name,
        "verb": "rerun",
    }
    raw = options if isinstance(options, dict) else {}
    action_check(**target, permission=PERMISSION, parameters=raw, request_id=request_id)
    with audit_invalid(**target, parameters=raw, request_id=request_id):
        if options not in (None, "") and not isinstance(options, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        resume = checked(RerunRequestSerializer(data=raw))["resume"]
        if resume and parent.status not in FINISHED_STATUSES:
            # Two Jobs resuming from one output would write the same checkpoints.
            raise ValidationError(
                {"run": [f"run {parent.id} is still {parent.status}: cancel it before resuming"]}
            )
    spec = {k: v for k, v in parent.parameters.items() if k not in _IDENTITY}
    base = parent.job_name[: 63 - GENERATED_SUFFIX - 1].rstrip("-")
    spec.update(generate_name=f"{base}-", parent=parent.id)
    if resume:
        spec.update(output_uri=parent.output_uri, resume=True)
    else:
        spec.pop("output_uri", None)
    return trainingrun_launch(
        actor=actor,
        cluster=cluster,
        namespace=namespace,
        spec=spec,
        relation="resume" if resume else "rerun",
        request_id=request_id,
    )


def trainingrun_cancel(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    run_id: object,
    options: object = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Ask for a run's Job to be deleted with its pods (propagation Foreground by default);
    the worker keeps the pods' logs with the run first."""
    validate_object_names(namespace=namespace)
    run = run_get(cluster=cluster, namespace=namespace, run_id=run_id)
    target = {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": KIND,
        "name": run.job_name,
        "verb": "cancel",
    }
    raw = options if isinstance(options, dict) else {}
    action_check(**target, permission=PERMISSION, parameters=raw, request_id=request_id)
    with audit_invalid(**target, parameters=raw, request_id=request_id):
        if options not in (None, "") and not isinstance(options, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        data = checked(CancelRequestSerializer(data=raw))
        if run.status in FINISHED_STATUSES:
            raise ValidationError({"run": [f"run {run.id} has already finished ({run.status})"]})
    return action_submit(
        **target,
        permission=PERMISSION,
        parameters={**data, "run": run.id},
        task=trainingrun_cancel_task,
        request_id=request_id,
    )
