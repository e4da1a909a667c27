"""Keeping a run's state, logs and progress with the run (a service of the worker).

While a run is active, and once after it finished, the beat task reads its Job, its pods and
each container's log tail through the kube layer, and stores them on the TrainingRun. What
was read before stays when a later read cannot see it (pods cleaned up by
ttlSecondsAfterFinished, a lost node), so the run page still shows them the next day.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import redis
from django.conf import settings
from django.utils import timezone

from controlplane.audit.models import ActionStatus
from controlplane.kube import jobs
from controlplane.kube.errors import KubeError, NotFound
from controlplane.kube.objects import object_time
from controlplane.live.cache import redis_client

from .finishing import runs_finishing
from .manifests import run_selector
from .models import FINISHED_STATUSES, RunStatus, TrainingRun
from .outputs import metrics_file_read, metrics_location
from .progress import final_metrics, progress_merge

log = logging.getLogger(__name__)


def _condition(job: dict, kind: str) -> dict | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


def job_status_of(job: dict) -> dict:
    status, spec = job.get("status") or {}, job.get("spec") or {}
    return {
        "conditions": status.get("conditions") or [],
        "active": int(status.get("active") or 0),
        "succeeded": int(status.get("succeeded") or 0),
        "failed": int(status.get("failed") or 0),
        "ready": int(status.get("ready") or 0),
        "start_time": status.get("startTime"),
        "completion_time": status.get("completionTime"),
        "backoff_limit": int(spec.get("backoffLimit", 6)),
        "parallelism": spec.get("parallelism"),
        "completions": spec.get("completions"),
        "uid": (job.get("metadata") or {}).get("uid"),
    }


def _container_started(pod: dict, container: str) -> bool:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container:
            state = cs.get("state") or {}
            return bool(state.get("running") or state.get("terminated") or cs.get("restartCount"))
    return False


def pod_record(pod: dict) -> dict:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    started = finished = None
    exit_code = reason = None
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("running"):
            started = started or state["running"].get("startedAt")
        if state.get("terminated"):
            term = state["terminated"]
            started = started or term.get("startedAt")
            finished = term.get("finishedAt")
            exit_code, reason = term.get("exitCode"), term.get("reason")
    scheduled = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {}
    )
    return {
        "name": meta.get("name", ""),
        "phase": status.get("phase", ""),
        "node": spec.get("nodeName", ""),
        "created": meta.get("creationTimestamp"),
        "started": started,
        "finished": finished,
        "exit_code": exit_code,
        "reason": reason or status.get("reason") or "",
        "containers": [c.get("name", "") for c in spec.get("containers") or []],
        "unschedulable": scheduled.get("message", "") if scheduled.get("status") == "False" else "",
        "deleted": False,
    }


def _merge_pods(kept: list[dict], seen: list[dict]) -> list[dict]:
    by_name = {p["name"]: p for p in kept}
    current = {p["name"] for p in seen}
    for record in seen:
        by_name[record["name"]] = record
    for name, record in by_name.items():
        if name not in current:
            record["deleted"] = True
    return sorted(by_name.values(), key=lambda p: (p.get("created") or "", p["name"]))


def _status_from(job: dict, pods: list[dict]) -> str:
    if _condition(job, "Complete"):
        return RunStatus.SUCCEEDED
    if _condition(job, "Failed"):
        return RunStatus.FAILED
    if any(p.get("phase") == "Running" for p in pods):
        return RunStatus.RUNNING
    return RunStatus.PENDING


def _when(stamp: str | None) -> datetime | None:
    return object_time(stamp, where="job status")


def _finished_at(job: dict) -> datetime | None:
    status = job.get("status") or {}
    if status.get("completionTime"):
        return _when(status["completionTime"])
    failed = _condition(job, "Failed")
    return _when(failed.get("lastTransitionTime")) if failed else None


def _read_logs(conn, run: TrainingRun, pods: list[dict]) -> dict:
    logs = dict(run.logs or {})
    limit = settings.TRAINING_LOG_TAIL_BYTES
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "")
        for container in (pod.get("spec") or {}).get("containers") or []:
            cname = container.get("name", "")
            if not _container_started(pod, cname):
                continue
            try:
                text = jobs.pod_log_tail(
                    conn, namespace=run.namespace, pod=name, container=cname, limit_bytes=limit
                )
            except NotFound:
                continue  # deleted between the list and the read: the last tail read stays
            logs[f"{name}/{cname}"] = text
    return logs


def _logs_in_order(run: TrainingRun) -> list[str]:
    order = {p["name"]: i for i, p in enumerate(run.pods or [])}
    keys = sorted(run.logs or {}, key=lambda k: (order.get(k.split("/", 1)[0], 1 << 30), k))
    return [run.logs[k] for k in keys]


def _launch_failed(run: TrainingRun) -> str | None:
    action = run.launch_action
    if action is not None and action.status in (ActionStatus.FAILED, ActionStatus.REFUSED):
        return action.error or action.status
    return None


def trainingrun_sync(*, run: TrainingRun) -> TrainingRun:
    """Read the run's Job, pods and logs once and store what they say (KubeError propagates:
    the caller records it as the run's sync error)."""
    if run.status == RunStatus.SUBMITTED:
        problem = _launch_failed(run)
        if problem:
            run.status, run.sync_error, run.final_synced = RunStatus.FAILED, problem, True
            run.finished = run.finished or timezone.now()
            run.save(update_fields=["status", "sync_error", "final_synced", "finished"])
            return run
    conn = run.cluster.connection()
    try:
        job = jobs.job_get(conn, namespace=run.namespace, name=run.job_name)
    except NotFound:
        job = None
    pods = jobs.pods_selected(conn, namespace=run.namespace, label_selector=run_selector(run.id))
    run.logs = _read_logs(conn, run, pods)
    run.pods = _merge_pods(list(run.pods or []), [pod_record(p) for p in pods])
    run.progress = progress_merge(_logs_in_order(run))
    run.metrics = final_metrics(run.progress)
    if job is not None:
        run.job_status = job_status_of(job)
        if run.status != RunStatus.CANCELLED:
            run.status = _status_from(job, run.pods)
        run.started = _when((job.get("status") or {}).get("startTime")) or run.started
        run.finished = _finished_at(job) or run.finished
        run.final_synced = run.status in FINISHED_STATUSES
    elif run.status not in (RunStatus.SUBMITTED, *FINISHED_STATUSES):
        # Gone before its end was seen here (deleted, or its TTL ran out between two syncs):
        # the program's own end line, if it was read, still says how it ended.
        end = (run.progress or {}).get("end") or {}
        run.status = {"succeeded": RunStatus.SUCCEEDED, "failed": RunStatus.FAILED}.get(
            end.get("status"), RunStatus.LOST
        )
        run.finished = run.finished or timezone.now()
        run.final_synced = True
    elif run.status in FINISHED_STATUSES:
        run.final_synced = True
    if run.status == RunStatus.SUCCEEDED and not (run.metrics_file or run.metrics_file_note):
        where = metrics_location(output_uri=run.output_uri, end=(run.progress or {}).get("end"))
        run.metrics_file, note = metrics_file_read(uri=where)
        run.metrics_file_note = note[:1000]
    run.synced, run.sync_error = timezone.now(), ""
    run.save()
    return run


def _run_lock(run_id: int):
    # One sync of a run at a time: two that overlap would each save the logs they began
    # with, and the later save could drop a log only the earlier one could still read.
    return redis_client().lock(
        f"{settings.REDIS_PREFIX}:training-sync:run:{run_id}",
        timeout=settings.TRAINING_SYNC_LOCK_SECONDS,
    )


def trainingrun_sync_locked(*, run: TrainingRun, wait: bool = True) -> TrainingRun | None:
    """trainingrun_sync under the run's lock, on the run as stored once the lock is held;
    None when `wait` is false and another sync of the run holds it (that one reads it)."""
    lock = _run_lock(run.id)
    if not lock.acquire(blocking=wait, blocking_timeout=settings.TRAINING_SYNC_LOCK_SECONDS):
        return None
    try:
        run.refresh_from_db()
        return trainingrun_sync(run=run)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("the sync of training run %s outlived its lock", run.id)


def _sync_each(runs, *, wait: bool) -> dict[str, int]:
    counts = {"synced": 0, "failed": 0, "busy": 0}
    for run in runs:
        try:
            synced = trainingrun_sync_locked(run=run, wait=wait)
        except KubeError as exc:
            log.warning("training run %s not synced: %s", run.id, exc)
            TrainingRun.objects.filter(id=run.id).update(
                sync_error=str(exc), synced=datetime.now(UTC)
            )
            counts["failed"] += 1
            continue
        counts["synced" if synced is not None else "busy"] += 1
    return counts


def _unfinished():
    return TrainingRun.objects.filter(final_synced=False).select_related("cluster", "launch_action")


def trainingrun_sync_active(*, limit: int = 200) -> dict[str, int]:
    """Sync every run that is not yet finally synced; one failing cluster does not stop the
    others (its runs keep the error until the next round)."""
    return _sync_each(_unfinished().order_by("synced", "id")[:limit], wait=True)


def trainingrun_sync_finishing(*, limit: int = 200) -> dict[str, int]:
    """Sync at once the runs whose Job finished or whose pods are ending, as the watcher's
    cache shows them (trainer.finishing), before their pods and logs can be cleaned up."""
    due = runs_finishing(runs=_unfinished().order_by("id")[:limit])
    # A run another sync is reading right now is left to it.
    return {**_sync_each(due, wait=False), "due": len(due)}
