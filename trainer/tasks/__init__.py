"""Celery tasks of the trainer app; each loads its action by id and calls the kube layer."""

from django.utils import timezone

from controlplane.audit.models import AuditEvent
from controlplane.audit.pipeline import action_task
from controlplane.kube import jobs
from controlplane.kube.errors import AlreadyExists, KubeError, NotFound
from controlplane.kube.manifests import ACTION_ANNOTATION

from ..manifests import job_manifest
from ..models import RunStatus, TrainingRun
from ..sync import trainingrun_sync_locked


def _ours(obj: dict, event: AuditEvent) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(ACTION_ANNOTATION) == str(event.id)


@action_task
def trainingrun_launch_task(event: AuditEvent) -> dict:
    run = TrainingRun.objects.get(id=event.parameters["run"])
    if run.status == RunStatus.CANCELLED:
        # Cancelled while this action waited for a worker: creating the Job now would start
        # the very run that was stopped.
        return {"run": run.id, "job": run.job_name, "created": False, "cancelled": True}
    conn = event.cluster.connection()
    body = job_manifest(
        run_id=run.id,
        namespace=run.namespace,
        name=run.job_name,
        parameters=run.parameters,
        output_uri=run.output_uri,
        parent_id=run.parent_id,
        action_id=str(event.id),
    )
    try:
        created = jobs.job_create(conn, namespace=run.namespace, body=body)
    except AlreadyExists:
        # Our own Job when a lost answer made this task run again; anything else is refused.
        created = jobs.job_get(conn, namespace=run.namespace, name=run.job_name)
        if not _ours(created, event):
            raise
    TrainingRun.objects.filter(id=run.id, status=RunStatus.SUBMITTED).update(
        status=RunStatus.PENDING
    )
    return {"run": run.id, "job": run.job_name, "uid": (created.get("metadata") or {}).get("uid")}


@action_task
def trainingrun_cancel_task(event: AuditEvent) -> dict:
    run = TrainingRun.objects.select_related("cluster", "launch_action").get(
        id=event.parameters["run"]
    )
    propagation = event.parameters.get("propagation") or "Foreground"
    # Keep what the pods said before they go: the run page shows it afterwards.
    try:
        synced = trainingrun_sync_locked(run=run)
        kept = synced is not None
        run = synced or run
    except KubeError:
        kept = False
    uid = (run.job_status or {}).get("uid")
    try:
        jobs.job_delete(
            event.cluster.connection(),
            namespace=run.namespace,
            name=run.job_name,
            propagation=propagation,
            uid=uid,
        )
        deleted = True
    except NotFound:
        deleted = False  # already gone (finished and cleaned up, or never created)
    TrainingRun.objects.filter(id=run.id).update(
        status=RunStatus.CANCELLED, finished=run.finished or timezone.now(), final_synced=True
    )
    return {
        "run": run.id,
        "job": run.job_name,
        "deleted": deleted,
        "propagation": propagation,
        "logs_kept": kept,
    }


from .deploy import trainingrun_deploy_task  # noqa: E402, F401
from .sync import trainingrun_sync_active, trainingrun_sync_finishing  # noqa: E402, F401
