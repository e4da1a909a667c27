"""Deployment status as the controller computes it: counts, Available and Progressing.

Pure functions over the Deployment and its ReplicaSets (calculateStatus and
syncRolloutStatus upstream); the controller decides when to write the result.
"""

from __future__ import annotations

from sandbox.controllers import rollout as ro
from sandbox.machinery.util import (
    deepcopy,
    get_condition,
    now,
    parse_time,
    remove_condition,
    set_condition,
)

NO_DEADLINE = 2**31 - 1


def has_deadline(d: dict) -> bool:
    return d["spec"].get("progressDeadlineSeconds", 600) != NO_DEADLINE


def calculate_status(d: dict, all_rss: list[dict], new_rs: dict | None) -> dict:
    """calculateStatus: counts from the ReplicaSets, and the Available condition."""
    rss = [rs for rs in all_rss if rs]
    available = sum(ro.status_count(rs, "availableReplicas") for rs in rss)
    total = sum(ro.replicas(rs) for rs in rss)
    status = dict(d.get("status") or {})
    status.pop("conditions", None)
    status.update(
        observedGeneration=d["metadata"].get("generation", 1),
        replicas=sum(ro.status_count(rs, "replicas") for rs in rss),
        updatedReplicas=ro.status_count(new_rs, "replicas"),
        readyReplicas=sum(ro.status_count(rs, "readyReplicas") for rs in rss),
        availableReplicas=available,
        unavailableReplicas=max(total - available, 0),
    )
    conditions = deepcopy({"conditions": (d.get("status") or {}).get("conditions") or []})
    if available >= ro.replicas(d) - ro.max_unavailable(d):
        set_condition(
            conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            update_times=True,
        )
    else:
        set_condition(
            conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            update_times=True,
        )
    # A ReplicaSet that cannot create pods makes the Deployment say so (getReplicaFailures).
    failures = [
        get_condition(rs.get("status"), "ReplicaFailure")
        for rs in ([new_rs] if new_rs else []) + rss
    ]
    failure = next((f for f in failures if f and f.get("status") == "True"), None)
    if failure is not None:
        set_condition(
            conditions,
            "ReplicaFailure",
            "True",
            failure.get("reason", "FailedCreate"),
            failure.get("message", ""),
            update_times=True,
        )
    else:
        remove_condition(conditions, "ReplicaFailure")
    status["conditions"] = conditions["conditions"]
    # The API omits zero counts (omitempty); observedGeneration is never zero here.
    for field in (
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
    ):
        if not status.get(field):
            status.pop(field, None)
    return status


def progress_conditions(d: dict, status: dict, new_rs: dict | None) -> None:
    """syncRolloutStatus: move the Progressing condition along (complete, progressing, stuck)."""
    if not has_deadline(d):
        remove_condition(status, "Progressing")
        return
    current = get_condition(status, "Progressing")
    complete_before = (
        status.get("replicas") == status.get("updatedReplicas")
        and current is not None
        and current.get("reason") == "NewReplicaSetAvailable"
    )
    if complete_before:
        return
    rs_name = new_rs["metadata"]["name"] if new_rs else ""
    if ro.deployment_complete(d, status):
        set_condition(
            status,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
            update_times=True,
        )
    elif ro.deployment_progressing(d, status):
        message = (
            f'ReplicaSet "{rs_name}" is progressing.' if new_rs else "Deployment is progressing."
        )
        transition = (
            current.get("lastTransitionTime")
            if current and current.get("status") == "True"
            else None
        )
        remove_condition(status, "Progressing")
        set_condition(
            status, "Progressing", "True", "ReplicaSetUpdated", message, update_times=True
        )
        if transition:
            get_condition(status, "Progressing")["lastTransitionTime"] = transition
    elif timed_out(d, status):
        set_condition(
            status,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{rs_name}" has timed out progressing.',
            update_times=True,
        )


def timed_out(d: dict, status: dict) -> bool:
    cond = get_condition(status, "Progressing")
    if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
        return False
    if cond.get("reason") == "ProgressDeadlineExceeded":
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    deadline = d["spec"].get("progressDeadlineSeconds", 600)
    return since is not None and since + deadline < now()
