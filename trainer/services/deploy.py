""" "Deploy this model": roll a succeeded run's exported model out to an existing model
deployment, through the action pipeline, ordered with the deployment's other rollouts.

The deployment's serving container gets MODEL_URI set to the run's export (what the inference
server loads), and the Deployment and its pod template carry the model version and the run's
lineage (run id, Job, output URI) as annotations, so kubectl shows where a model came from.
It shares the rollout's "template" state (deployments.services.deployment_state_key): the
last accepted change of the pod template decides it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from controlplane.audit.services import action_check, action_submit, audit_invalid
from controlplane.kube.names import validate_object_names
from deployments.services import deployment_state_key, require_known_deployment

from ..models import RunStatus
from ..serializers import DeployRequestSerializer
from ..tasks.deploy import trainingrun_deploy_task
from . import checked, run_get

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.audit.models import AuditEvent
    from controlplane.clusters.models import Cluster


def model_uri_of(run) -> str:
    """Where the run exported its model: its end line says; else OUTPUT/model by layout."""
    end = (run.progress or {}).get("end") or {}
    return end.get("export") or f"{run.output_uri.rstrip('/')}/model"


def trainingrun_deploy(
    *,
    actor: User,
    cluster: Cluster,
    namespace: str,
    run_id: object,
    body: object,
    request_id: str | None = None,
) -> AuditEvent:
    validate_object_names(namespace=namespace)
    run = run_get(cluster=cluster, namespace=namespace, run_id=run_id)
    raw = body if isinstance(body, dict) else {}
    name = raw.get("deployment")
    target = {
        "actor": actor,
        "cluster": cluster,
        "namespace": namespace,
        "kind": "deployment",
        "name": name[:253] if isinstance(name, str) else "",
        "verb": "deploy_model",
    }
    action_check(**target, permission="deploy", parameters=raw, request_id=request_id)
    with audit_invalid(**target, parameters=raw, request_id=request_id):
        if body not in (None, "") and not isinstance(body, dict):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        data = checked(DeployRequestSerializer(data=raw))
        validate_object_names(name=data["deployment"])
        if run.status != RunStatus.SUCCEEDED:
            raise ValidationError(
                {"run": [f"run {run.id} is {run.status}: only a succeeded run has a model"]}
            )
    parameters = {
        "run": run.id,
        "deployment": data["deployment"],
        "container": data.get("container") or "",
        "model_uri": model_uri_of(run),
        "model_version": data.get("model_version") or f"run-{run.id}",
        "job": run.job_name,
        "output_uri": run.output_uri,
    }
    require_known_deployment(target=target, parameters=parameters, request_id=request_id)
    return action_submit(
        **target,
        permission="deploy",
        parameters=parameters,
        task=trainingrun_deploy_task,
        state_key=deployment_state_key(
            cluster=cluster, namespace=namespace, name=data["deployment"], field="template"
        ),
        request_id=request_id,
    )
