"""Reads of training runs, role-checked: the run as kept in the database, with the live Job
and pods from the watcher's cache (or a live list) on top while they exist."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from controlplane.accounts.selectors import user_can
from controlplane.kube.objects import object_time
from controlplane.live.snapshot import snapshot_get

from .manifests import RUN_LABEL
from .models import TrainingRun
from .progress import progress_summary
from .services import run_get
from .sync import job_status_of, pod_record

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster


def require_view(*, user, cluster, namespace: str) -> None:
    if not user_can(user=user, permission="view", cluster=cluster, namespace=namespace):
        raise PermissionDenied(f"You may not view namespace {namespace} on cluster {cluster.name}.")


def trainingrun_list(*, user: User, cluster: Cluster, namespace: str, limit: int = 200):
    require_view(user=user, cluster=cluster, namespace=namespace)
    return TrainingRun.objects.filter(cluster=cluster, namespace=namespace).select_related(
        "cluster", "launch_action"
    )[:limit]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    return max(((end or timezone.now()) - start).total_seconds(), 0.0)


def _stamp(value: str | None) -> datetime | None:
    return object_time(value, where="training pod")


def gpu_hours(run: TrainingRun, pods: list[dict]) -> float | None:
    gpus = int((run.parameters or {}).get("gpus") or 0)
    if not gpus:
        return 0.0
    total = 0.0
    for pod in pods:
        started = _stamp(pod.get("started"))
        if started is not None:
            ended = _stamp(pod.get("finished")) if pod.get("finished") else None
            if ended is None and (pod.get("deleted") or run.is_finished):
                continue  # never seen ending: not counted rather than counted to now
            total += _seconds(started, ended) or 0.0
    return round(total * gpus / 3600.0, 4)


def run_summary(run: TrainingRun) -> dict:
    return {
        "id": run.id,
        "cluster": run.cluster.name,
        "namespace": run.namespace,
        "job_name": run.job_name,
        "status": run.status,
        "created": run.created,
        "created_by": run.created_by_name,
        "parameters": run.parameters,
        "output_uri": run.output_uri,
        "parent": run.parent_id,
        "relation": run.relation,
        "launch_action": str(run.launch_action_id) if run.launch_action_id else None,
        "started": run.started,
        "finished": run.finished,
        "duration_seconds": _seconds(run.started, run.finished)
        if run.started and (run.finished or not run.is_finished)
        else None,
        "gpu_hours": gpu_hours(run, run.pods or []),
        "synced": run.synced,
    }


def _fixes(message: str, parameters: dict) -> list[str]:
    """What would let the scheduler place the pod, from its FailedScheduling message."""
    accelerator = parameters.get("accelerator") or ""
    gpus = int(parameters.get("gpus") or 0)
    fixes = []
    if "nvidia.com/gpu" in message and "Insufficient" in message:
        fixes.append(
            f"Add a GPU node pool with accelerator {accelerator or 'of your choice'} and at "
            f"least {gpus} GPU(s) per node, wait for running GPU jobs to finish, or ask for "
            "fewer GPUs."
        )
    if "node affinity/selector" in message and accelerator:
        fixes.append(
            f"No schedulable node has cloud.google.com/gke-accelerator={accelerator}: add a GPU "
            f"node pool with accelerator {accelerator}, or choose an accelerator one of your "
            "pools has."
        )
    for resource in ("cpu", "memory"):
        if f"Insufficient {resource}" in message:
            fixes.append(
                f"Lower the {resource} request ({parameters.get(resource) or 'none set'}) or add "
                f"nodes with more {resource}."
            )
    if "untolerated taint" in message:
        fixes.append("The nodes with room are tainted: add a pool without taints or tolerate them.")
    return fixes


def _pool_link(run: TrainingRun) -> str | None:
    """The GKE pages' form for a GPU pool of this run's accelerator, for a cluster created
    through GKE here (the route exists only where the GKE app is installed)."""
    accelerator = (run.parameters or {}).get("accelerator")
    if not accelerator or run.cluster.source != "gke":
        return None
    try:
        url = reverse("gke:nodepool_create_for", kwargs={"cluster": run.cluster.name})
    except NoReverseMatch:
        return None
    count = int((run.parameters or {}).get("gpus") or 1)
    return f"{url}?{urlencode({'accelerator': accelerator, 'count': count})}"


def pending_reasons(run: TrainingRun, pods: list[dict], events: list[dict]) -> list[dict]:
    """Why the run's pods are not scheduled, in the scheduler's words, with what would fix it."""
    messages: dict[str, str] = {}
    for pod in pods:
        if pod.get("phase") == "Pending" and pod.get("unschedulable"):
            messages[pod["name"]] = pod["unschedulable"]
    names = {p["name"] for p in pods if p.get("phase") == "Pending"}
    for event in events:
        involved = event.get("involvedObject") or {}
        if event.get("reason") == "FailedScheduling" and involved.get("name") in names:
            messages.setdefault(involved["name"], event.get("message") or "")
    link = _pool_link(run)
    return [
        {"pod": pod, "message": message, "fixes": _fixes(message, run.parameters), "link": link}
        for pod, message in sorted(messages.items())
    ]


def _live(run: TrainingRun) -> tuple[dict | None, list[dict], list[dict], str]:
    """The Job, its pods and events now (cache or live list), and why they could not be read."""
    jobs = snapshot_get(cluster=run.cluster, kind="jobs", namespace=run.namespace)
    if not jobs.ok:
        return None, [], [], jobs.error or jobs.note
    job = next(
        (j for j in jobs.objects if (j.get("metadata") or {}).get("name") == run.job_name), None
    )
    pods = snapshot_get(cluster=run.cluster, kind="pods", namespace=run.namespace)
    mine = [
        p
        for p in pods.objects
        if ((p.get("metadata") or {}).get("labels") or {}).get(RUN_LABEL) == str(run.id)
    ]
    events = snapshot_get(cluster=run.cluster, kind="events", namespace=run.namespace).objects
    return job, mine, events, ""


def _merged_pods(kept: list[dict], live: list[dict]) -> list[dict]:
    by_name = {p["name"]: {**p} for p in kept}
    for pod in live:
        record = pod_record(pod)
        by_name[record["name"]] = record
    live_names = {(p.get("metadata") or {}).get("name") for p in live}
    for name, record in by_name.items():
        record["deleted"] = name not in live_names
    return sorted(by_name.values(), key=lambda p: (p.get("created") or "", p["name"]))


def trainingrun_detail(*, user: User, cluster: Cluster, namespace: str, run_id: object) -> dict:
    require_view(user=user, cluster=cluster, namespace=namespace)
    run = run_get(cluster=cluster, namespace=namespace, run_id=run_id)
    job, live_pods, events, live_error = _live(run)
    status = job_status_of(job) if job is not None else dict(run.job_status or {})
    pods = _merged_pods(list(run.pods or []), live_pods)
    backoff_limit = int(status.get("backoff_limit", run.parameters.get("backoff_limit", 6)))
    failed = int(status.get("failed") or 0)
    summary = run_summary(run)
    summary["gpu_hours"] = gpu_hours(run, pods)
    return {
        **summary,
        "run": run,
        "job_exists": job is not None,
        "live_error": live_error,
        "conditions": status.get("conditions") or [],
        "attempts": {
            "pods": len(pods),
            "failed": failed,
            "succeeded": int(status.get("succeeded") or 0),
            "active": int(status.get("active") or 0),
            "backoff_limit": backoff_limit,
            "retries_left": max(backoff_limit - failed, 0),
        },
        "pods": pods,
        "progress": progress_summary(run.progress or {}, finished=run.is_finished),
        "metrics": run.metrics or {},
        "metrics_file": run.metrics_file or {},
        "metrics_file_note": run.metrics_file_note,
        "pending_reasons": pending_reasons(run, pods, events),
        "logs": run.logs or {},
        "sync_error": run.sync_error,
    }
