"""Celery tasks of the deployments app; each loads its action by id and calls the kube layer."""

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import action_task
from controlplane.kube import resources

from . import autoscale  # noqa: F401 (registers the autoscaler tasks with Celery)


@action_task
def deployment_scale_task(event: AuditEvent) -> dict:
    # An absolute count: running this twice (after a lost worker) leaves the same state.
    replicas = int(event.parameters["replicas"])
    scale = resources.deployment_scale(
        event.cluster.connection(), namespace=event.namespace, name=event.name, replicas=replicas
    )
    return {"replicas": (scale.get("spec") or {}).get("replicas", replicas)}


from .apply import manifests_apply_task  # noqa: E402, F401
from .deploy import deployment_create_task, deployment_delete_task  # noqa: E402, F401
from .rollout import deployment_rollout_task  # noqa: E402, F401
