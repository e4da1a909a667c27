"""Which runs to sync at once because their pods are ending: read from the watcher's cache.

A pod that finishes and is deleted between two rounds of the periodic sync (a small
ttlSecondsAfterFinished, a cancel, a lost node) takes its log with it. The watcher sees a pod
terminate, or a Job finish, as it happens; a short beat reads only the watcher's cache (no call
to the cluster) and picks the runs with such a change not yet kept, so they are synced while
their pods can still be read. A cache that cannot be trusted picks nothing: the periodic sync
covers those runs as before.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from controlplane.live.cache import cached_snapshot

from .manifests import RUN_LABEL
from .models import FINISHED_STATUSES, RunStatus

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .models import TrainingRun

ENDED_PHASES = ("Succeeded", "Failed")


def pod_ending(pod: dict) -> bool:
    """Terminated, or on its way out: its log may be gone by the next periodic sync."""
    status = pod.get("status") or {}
    if status.get("phase") in ENDED_PHASES or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return True
    return any(
        (cs.get("state") or {}).get("terminated") for cs in status.get("containerStatuses") or []
    )


def _kept_ended(record: dict | None) -> bool:
    """Whether the run already read this pod after it ended (its log is then complete)."""
    return bool(record and record.get("phase") in ENDED_PHASES and record.get("finished"))


def job_finished(job: dict) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def _due(run: TrainingRun, job: dict | None, pods: list[dict]) -> bool:
    if job is None:
        # Gone from a trusted cache before its end was kept: the sync reads what is left.
        return run.status not in (RunStatus.SUBMITTED, *FINISHED_STATUSES)
    if job_finished(job) and run.status not in FINISHED_STATUSES:
        return True
    kept = {p.get("name"): p for p in run.pods or []}
    return any(
        pod_ending(pod) and not _kept_ended(kept.get((pod.get("metadata") or {}).get("name")))
        for pod in pods
    )


def runs_finishing(*, runs: Iterable[TrainingRun]) -> list[TrainingRun]:
    """The runs among `runs` (not finally synced) whose Job or pods are ending unseen."""
    by_place: dict[tuple[str, str], list[TrainingRun]] = defaultdict(list)
    for run in runs:
        by_place[(run.cluster.name, run.namespace)].append(run)
    due = []
    for (cluster, namespace), group in by_place.items():
        jobs = cached_snapshot(cluster_name=cluster, kind="jobs", namespace=namespace)[0]
        pods = cached_snapshot(cluster_name=cluster, kind="pods", namespace=namespace)[0]
        if jobs is None or pods is None:
            continue
        job_by_name = {(j.get("metadata") or {}).get("name"): j for j in jobs}
        pods_by_run: dict[str, list[dict]] = defaultdict(list)
        for pod in pods:
            run_id = ((pod.get("metadata") or {}).get("labels") or {}).get(RUN_LABEL)
            if run_id:
                pods_by_run[run_id].append(pod)
        for run in group:
            if _due(run, job_by_name.get(run.job_name), pods_by_run.get(str(run.id), [])):
                due.append(run)
    return due
