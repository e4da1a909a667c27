"""Rolling a run's model out to a deployment: one replace of the Deployment (re-read on 409),
idempotent for a redelivered message since every value it writes is absolute. Or creating the
model deployment for it: the deployments app's manifests with the model and lineage set, made
as that app's deploy makes them (a create whose answer was lost finds its own objects by the
action annotation; anything else already there fails the action, never overwritten)."""

import copy

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import action_task
from controlplane.kube import resources, workloads
from controlplane.kube import rollouts as kube
from controlplane.kube.errors import AlreadyExists, KubeError, NotFound
from controlplane.kube.manifests import ACTION_ANNOTATION, MODEL_VERSION_LABEL, model_manifests

LINEAGE = {
    "run": "model.mlcp.io/training-run",
    "job": "model.mlcp.io/training-job",
    "output_uri": "model.mlcp.io/training-output",
    "model_uri": "model.mlcp.io/artifact-uri",
    "model_version": "model.mlcp.io/version",
}
CHANGE_CAUSE = "kubernetes.io/change-cause"
MODEL_ENV = "MODEL_URI"


class DeployRefused(KubeError):
    """The deployment no longer fits the request (e.g. the named container is gone)."""


def model_set(deployment: dict, *, parameters: dict) -> dict:
    """The Deployment serving the run's model, with its lineage annotations."""
    updated = copy.deepcopy(deployment)
    pod_spec = updated["spec"]["template"]["spec"]
    containers = pod_spec.get("containers") or []
    wanted = parameters.get("container") or ""
    if wanted:
        chosen = [c for c in containers if c.get("name") == wanted]
        if not chosen:
            names = ", ".join(c.get("name", "") for c in containers)
            raise DeployRefused(f"the deployment has no container {wanted!r} (it has: {names})")
    elif len(containers) != 1:
        names = ", ".join(c.get("name", "") for c in containers)
        raise DeployRefused(f"the deployment has {len(containers)} containers ({names}): name one")
    else:
        chosen = containers
    container = chosen[0]
    env = [e for e in container.get("env") or [] if e.get("name") != MODEL_ENV]
    container["env"] = [*env, {"name": MODEL_ENV, "value": parameters["model_uri"]}]
    lineage = {key: str(parameters[field]) for field, key in LINEAGE.items()}
    meta = updated["metadata"]
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        **lineage,
        CHANGE_CAUSE: f"deploy model of training run {parameters['run']} ({parameters['job']})",
    }
    meta["labels"] = {
        **(meta.get("labels") or {}),
        MODEL_VERSION_LABEL: parameters["model_version"],
    }
    template_meta = updated["spec"]["template"].setdefault("metadata", {})
    template_meta["annotations"] = {**(template_meta.get("annotations") or {}), **lineage}
    return updated


@action_task
def trainingrun_deploy_task(event: AuditEvent) -> dict:
    written = kube.deployment_update(
        event.cluster.connection(),
        namespace=event.namespace,
        name=event.parameters["deployment"],
        change=lambda current: model_set(current, parameters=event.parameters),
    )
    return {
        "deployment": event.parameters["deployment"],
        "model_uri": event.parameters["model_uri"],
        "model_version": event.parameters["model_version"],
        "generation": int((written.get("metadata") or {}).get("generation") or 0),
    }


def _ours(obj: dict, event: AuditEvent) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(ACTION_ANNOTATION) == str(event.id)


def _create_once(create, read, *, body: dict, event: AuditEvent) -> dict:
    try:
        return create(body=body)
    except AlreadyExists:
        existing = read()
        if _ours(existing, event):
            return existing
        raise


@action_task
def trainingrun_deploy_create_task(event: AuditEvent) -> dict:
    conn = event.cluster.connection()
    namespace, parameters = event.namespace, event.parameters
    deployment, service = model_manifests(
        namespace=namespace, spec=parameters["create"], action_id=str(event.id)
    )
    deployment = model_set(deployment, parameters=parameters)
    name = deployment["metadata"]["name"]
    if service is not None:
        # Refused before the Deployment exists: it would be left without its Service.
        try:
            taken = workloads.service_get(conn, namespace=namespace, name=name)
        except NotFound:
            taken = None
        if taken is not None and not _ours(taken, event):
            raise AlreadyExists(f'services "{name}" already exists', reason="AlreadyExists")
    created = _create_once(
        lambda body: workloads.deployment_create(conn, namespace=namespace, body=body),
        lambda: resources.deployment_get(conn, namespace=namespace, name=name),
        body=deployment,
        event=event,
    )
    result = {
        "deployment": name,
        "created": True,
        "uid": (created.get("metadata") or {}).get("uid"),
        "model_uri": parameters["model_uri"],
        "model_version": parameters["model_version"],
    }
    if service is not None:
        made = _create_once(
            lambda body: workloads.service_create(conn, namespace=namespace, body=body),
            lambda: workloads.service_get(conn, namespace=namespace, name=name),
            body=service,
            event=event,
        )
        result["service"] = name
        result["service_type"] = (made.get("spec") or {}).get("type")
    return result
