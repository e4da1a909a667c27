"""Rollouts: set images, roll back, pause, resume, restart, each one an action.

The reads (status, history, diffs) are in deployments/selectors_rollout.py.

Each write follows deployment_scale: names, then the role, then the input, then the cluster's
view of the deployment, each refusal audited; then one action for the worker. Unlike a scale,
the input can only be judged against the deployment itself (which containers it has, which
revisions it keeps), so these requests read the deployment and its ReplicaSets once.

Ordering (state_key): a rollout and a rollback both set the pod template as a whole, so they
share one state, "template": whichever was accepted last decides it, and an older rollback
that reaches a worker after a newer rollout is superseded instead of undoing it. The price:
two requests for different containers of one deployment, accepted before the first ran, keep
only the later one (the earlier is recorded as superseded, with the request that won). Pause and
resume set spec.paused ("paused"). A restart is not absolute (each one is a new restart) and
carries no state_key; it is made idempotent by the restartedAt time chosen here.

Roles: rollout needs "rollout" (engineer); rollback and restart need "rollback" and "restart"
(operator, the on-call staff); pause and resume steer a rollout and need "rollout".
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils import timezone

from controlplane.audit.models import ActionStatus, AuditEvent
from controlplane.audit.pipeline import describe_error
from controlplane.audit.services import action_check, action_record, action_submit, audit_invalid
from controlplane.kube import rollouts as kube
from controlplane.kube.errors import KubeError
from controlplane.kube.names import validate_object_names

from .. import rollouts
from ..tasks.rollout import (
    deployment_pause_task,
    deployment_restart_task,
    deployment_rollback_task,
    deployment_rollout_task,
)
from . import MISSING, deployment_state_key

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

log = logging.getLogger(__name__)


def _target(*, actor, cluster, namespace, name, verb) -> dict:
    return {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "deployment",
        "name": name,
        "verb": verb,
    }


def _tree(*, target: dict, parameters: dict, request_id: str | None) -> dict:
    """The deployment with its ReplicaSets and pods; a failure to read it is audited."""
    try:
        return kube.deployment_tree(
            target["cluster"].connection(),
            namespace=target["namespace"],
            name=target["name"],
            with_pods=False,
        )
    except KubeError as error:
        action_record(
            **target,
            parameters=parameters,
            status=ActionStatus.FAILED,
            error=describe_error(error),
            request_id=request_id,
        )
        raise


def _state_key(*, target: dict, field: str) -> str:
    return deployment_state_key(
        cluster=target["cluster"], namespace=target["namespace"], name=target["name"], field=field
    )


# Roll out -------------------------------------------------------------------------------


def validate_rollout(
    *, deployment: dict, image: object, containers: object, change_cause: object
) -> dict:
    """{"containers": [{"name", "image"}], "change_cause"} or ValidationError naming fields."""
    errors: dict[str, list[str]] = {}
    names = rollouts.container_names(deployment)
    images: dict[str, str] = {}
    if image is not MISSING and containers is not MISSING:
        errors["image"] = ["Send either image or containers, not both."]
    elif containers is not MISSING:
        if not isinstance(containers, dict) or not containers:
            errors["containers"] = ["Expected a non-empty object of container name to image."]
        else:
            problems = []
            for name, value in containers.items():
                if name not in names:
                    problems.append(
                        f"The deployment has no container named {name!r} "
                        f"(it has: {', '.join(names)})."
                    )
                elif problem := rollouts.image_problem(value):
                    problems.append(f"{name}: {problem}")
                else:
                    images[name] = value
            if problems:
                errors["containers"] = problems
    elif image is MISSING:
        errors["image"] = ["This field is required (or send containers)."]
    elif problem := rollouts.image_problem(image):
        errors["image"] = [problem]
    elif len(names) != 1:
        errors["image"] = [
            f"The deployment has {len(names)} containers ({', '.join(names)}); "
            "name them in containers."
        ]
    else:
        images[names[0]] = image
    if change_cause is MISSING or change_cause is None:
        change_cause = ""
    if not isinstance(change_cause, str):
        errors["change_cause"] = ["Not a valid string."]
    elif len(change_cause) > rollouts.CHANGE_CAUSE_MAX:
        errors["change_cause"] = [
            f"Ensure this field has no more than {rollouts.CHANGE_CAUSE_MAX} characters."
        ]
    if errors:
        raise ValidationError(errors)
    return {
        "containers": [{"name": name, "image": value} for name, value in images.items()],
        "change_cause": change_cause,
    }


def _sent(**fields) -> dict:
    return {key: value for key, value in fields.items() if value is not MISSING}


def deployment_rollout(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    image: object = MISSING,
    containers: object = MISSING,
    change_cause: object = MISSING,
    request_id: str | None = None,
) -> AuditEvent:
    """Set the image of one container (`image`) or several (`containers`), recording
    `change_cause` as kubectl's kubernetes.io/change-cause annotation; a rolling update."""
    validate_object_names(namespace=namespace, name=name)
    target = _target(actor=actor, cluster=cluster, namespace=namespace, name=name, verb="rollout")
    sent = _sent(image=image, containers=containers, change_cause=change_cause)
    action_check(**target, permission="rollout", parameters=sent, request_id=request_id)
    # Field-level problems that need no cluster read are refused before it.
    with audit_invalid(**target, parameters=sent, request_id=request_id):
        if image is not MISSING and (problem := rollouts.image_problem(image)):
            raise ValidationError({"image": [problem]})
    tree = _tree(target=target, parameters=sent, request_id=request_id)
    with audit_invalid(**target, parameters=sent, request_id=request_id):
        parameters = validate_rollout(
            deployment=tree["deployment"],
            image=image,
            containers=containers,
            change_cause=change_cause,
        )
    return action_submit(
        **target,
        permission="rollout",
        parameters=parameters,
        task=deployment_rollout_task,
        state_key=_state_key(target=target, field="template"),
        request_id=request_id,
    )


# Roll back ------------------------------------------------------------------------------


def deployment_rollback(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    revision: object = MISSING,
    request_id: str | None = None,
) -> AuditEvent:
    """Roll back to `revision` (absent or 0: the previous one), as
    `kubectl rollout undo --to-revision` does."""
    validate_object_names(namespace=namespace, name=name)
    target = _target(actor=actor, cluster=cluster, namespace=namespace, name=name, verb="rollback")
    sent = _sent(revision=revision)
    action_check(**target, permission="rollback", parameters=sent, request_id=request_id)
    with audit_invalid(**target, parameters=sent, request_id=request_id):
        if (
            revision is not MISSING
            and revision is not None
            and (isinstance(revision, bool) or not isinstance(revision, int) or revision < 0)
        ):
            raise ValidationError({"revision": ["A valid revision number (>= 0) is required."]})
    tree = _tree(target=target, parameters=sent, request_id=request_id)
    deployment, replicasets = tree["deployment"], tree["replicasets"]
    with audit_invalid(**target, parameters=sent, request_id=request_id):
        if (deployment.get("spec") or {}).get("paused"):
            raise ValidationError(
                {"non_field_errors": ["The deployment is paused; resume it before rolling back."]}
            )
        if revision in (MISSING, None, 0):
            number = rollouts.previous_revision(deployment, replicasets)
            if number is None:
                raise ValidationError({"revision": ["There is no previous revision."]})
        else:
            number = int(revision)
            if rollouts.replicaset_for_revision(replicasets, number) is None:
                kept = sorted(rollouts.revision_of(rs) for rs in replicasets)
                raise ValidationError(
                    {
                        "revision": [
                            f"Revision {number} is not in the history "
                            f"(kept: {', '.join(map(str, kept)) or 'none'})."
                        ]
                    }
                )
    parameters = {"revision": number, **({} if sent else {"requested": "previous"})}
    return action_submit(
        **target,
        permission="rollback",
        parameters=parameters,
        task=deployment_rollback_task,
        state_key=_state_key(target=target, field="template"),
        request_id=request_id,
    )


# Pause, resume, restart -----------------------------------------------------------------


def _require_exists(*, target: dict, parameters: dict, request_id: str | None) -> dict:
    return _tree(target=target, parameters=parameters, request_id=request_id)["deployment"]


def deployment_pause_set(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    paused: bool,
    request_id: str | None = None,
) -> AuditEvent:
    """Pause (or resume) the rollout: spec.paused, as `kubectl rollout pause|resume`."""
    validate_object_names(namespace=namespace, name=name)
    verb = "pause" if paused else "resume"
    target = _target(actor=actor, cluster=cluster, namespace=namespace, name=name, verb=verb)
    parameters = {"paused": paused}
    action_check(**target, permission="rollout", parameters=parameters, request_id=request_id)
    _require_exists(target=target, parameters=parameters, request_id=request_id)
    return action_submit(
        **target,
        permission="rollout",
        parameters=parameters,
        task=deployment_pause_task,
        state_key=_state_key(target=target, field="paused"),
        request_id=request_id,
    )


def deployment_restart(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    name: str,
    request_id: str | None = None,
) -> AuditEvent:
    """Replace every pod, as `kubectl rollout restart`: a new restartedAt on the template."""
    validate_object_names(namespace=namespace, name=name)
    target = _target(actor=actor, cluster=cluster, namespace=namespace, name=name, verb="restart")
    action_check(**target, permission="restart", parameters={}, request_id=request_id)
    deployment = _require_exists(target=target, parameters={}, request_id=request_id)
    with audit_invalid(**target, parameters={}, request_id=request_id):
        if (deployment.get("spec") or {}).get("paused"):
            raise ValidationError(
                {"non_field_errors": ["The deployment is paused; resume it before restarting."]}
            )
    restarted_at = timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return action_submit(
        **target,
        permission="restart",
        parameters={"restarted_at": restarted_at},
        task=deployment_restart_task,
        request_id=request_id,
    )
