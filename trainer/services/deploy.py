""" "Deploy this model": roll a succeeded run's exported model out to an existing model
deployment, through the action pipeline, ordered with the deployment's other rollouts.

The deployment's serving container gets MODEL_URI set to the run's export (what the inference
server loads), and the Deployment and its pod template carry the model version and the run's
lineage (run id, Job, output URI) as annotations, so kubectl shows where a model came from.
It shares the rollout's "template" state (deployments.services.deployment_state_key): the
last accepted change of the pod template decides it.

With `create` instead of a deployment, the model deployment is made for it: the body is the
deploy-a-model one, checked by the deployments app's own deploy service (deploy_validate), and
the worker creates the Deployment and its Service as that app's deploy does, with MODEL_URI
and the lineage already on them, so the first pods serve the run's model.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import redis
from django.core.exceptions import ValidationError

from controlplane.audit.services import action_check, action_submit, audit_invalid
from controlplane.kube.names import validate_object_names
from controlplane.live.cache import cached_object
from deployments.services import deployment_state_key, require_known_deployment
from deployments.services.deploy import deploy_validate

from ..models import RunStatus
from ..serializers import RunDeployRequestSerializer
from ..tasks.deploy import trainingrun_deploy_create_task, trainingrun_deploy_task
from . import checked, run_get

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.audit.models import AuditEvent
    from controlplane.clusters.models import Cluster

log = logging.getLogger(__name__)


def model_uri_of(run) -> str:
    """Where the run exported its model: its end line says; else OUTPUT/model by layout."""
    end = (run.progress or {}).get("end") or {}
    return end.get("export") or f"{run.output_uri.rstrip('/')}/model"


def _target_name(raw: dict) -> str:
    create = raw.get("create")
    name = create.get("name") if isinstance(create, dict) else raw.get("deployment")
    return name[:253] if isinstance(name, str) else ""


def _creatable(*, cluster: Cluster, namespace: str, create: dict, run) -> dict:
    """The create body as the deployments app's deploy service checks and normalises it, with
    the run's model name when none is given; refused when the watcher already holds one."""
    try:
        spec = deploy_validate(spec=create)
    except ValidationError as exc:
        # Its field names are the deploy body's own: here that body is under "create".
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        raise ValidationError(
            {f"create.{field}".rstrip("."): messages for field, messages in errors.items()}
        ) from None
    spec.pop("dry_run", None)
    if not spec.get("model_name") and (run.parameters or {}).get("model"):
        spec["model_name"] = run.parameters["model"]
    try:
        found, _trusted = cached_object(
            cluster_name=cluster.name, kind="deployments", namespace=namespace, name=spec["name"]
        )
    except redis.RedisError as exc:
        log.warning("live cache unreachable; the worker will find out: %s", exc)
        found = None
    if found is not None:
        raise ValidationError(
            {
                "create.name": [
                    f"the deployment {spec['name']} already exists in {namespace}: send "
                    '{"deployment": "' + spec["name"] + '"} to roll the model out to it'
                ]
            }
        )
    return spec


def trainingrun_deploy(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    run_id: object,
    body: object,
    request_id: str | None = None,
) -> AuditEvent:
    """Roll a succeeded run's model out to `body["deployment"]`, or create the model
    deployment `body["create"]` describes; returns the pending action."""
    validate_object_names(namespace=namespace)
    run = run_get(cluster=cluster, namespace=namespace, run_id=run_id)
    raw = body if isinstance(body, dict) else {}
    target = {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "deployment",
        "name": _target_name(raw),
        "verb": "deploy_model",
    }
    action_check(**target, permission="deploy", parameters=raw, request_id=request_id)
    with audit_invalid(**target, parameters=raw, request_id=request_id):
        if body not in (None, "") and not isinstance(body, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        data = checked(RunDeployRequestSerializer(data=raw))
        if run.status != RunStatus.SUCCEEDED:
            raise ValidationError(
                {"run": [f"run {run.id} is {run.status}: only a succeeded run has a model"]}
            )
        create = None
        if "create" in data:
            create = _creatable(cluster=cluster, namespace=namespace, create=raw["create"], run=run)
        else:
            validate_object_names(name=data["deployment"])
    name = create["name"] if create else data["deployment"]
    parameters = {
        "run": run.id,
        "deployment": name,
        "container": data.get("container") or "",
        "model_uri": model_uri_of(run),
        "model_version": data.get("model_version") or f"run-{run.id}",
        "job": run.job_name,
        "output_uri": run.output_uri,
    }
    if create is not None:
        # A create is not an absolute state: like the deployments app's deploy, a second
        # one is refused by the cluster rather than ordered.
        parameters["create"] = {**create, "model_version": parameters["model_version"]}
        return action_submit(
            **target,
            permission="deploy",
            parameters=parameters,
            task=trainingrun_deploy_create_task,
            request_id=request_id,
        )
    require_known_deployment(target=target, parameters=parameters, request_id=request_id)
    return action_submit(
        **target,
        permission="deploy",
        parameters=parameters,
        task=trainingrun_deploy_task,
        state_key=deployment_state_key(
            cluster=cluster, namespace=namespace, name=name, field="template"
        ),
        request_id=request_id,
    )
