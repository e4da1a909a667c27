"""Pod status as the kubelet reports it: phase, IPs, conditions, containerStatuses."""

from __future__ import annotations

from typing import Any

from sandbox.kubelet.state import (
    CONFIG_ERROR,
    CRASH_BACKOFF,
    EXITED,
    RUNNING,
    ContainerRun,
    PodRun,
)
from sandbox.machinery.util import get_condition, rfc3339, set_condition


def pod_status(pod: dict, run: PodRun, at: float) -> dict:
    """The pod status a kubelet would post for this pod right now."""
    # A shallow copy is enough: set_condition replaces condition dicts, never edits them.
    status = dict(pod.get("status") or {})
    status["conditions"] = list(status.get("conditions") or [])
    statuses = [container_status(crun, at, run.killing) for crun in run.containers.values()]
    phase = _phase(pod, run)
    status["phase"] = phase
    status["hostIP"] = run.host_ip
    status["hostIPs"] = [{"ip": run.host_ip}]
    status["podIP"] = run.ip
    status["podIPs"] = [{"ip": run.ip}]
    status["startTime"] = run.start_time
    status["containerStatuses"] = statuses
    if run.init_containers:
        status["initContainerStatuses"] = [
            container_status(crun, at, run.killing) for crun in run.init_containers
        ]
    done = phase in ("Succeeded", "Failed")
    set_condition(
        status,
        "PodReadyToStartContainers",
        "False" if done else "True",
        "",
        "",
        probe_times=True,
    )
    pending_init = [c.name for c in run.init_containers if not _init_done(c)]
    if pending_init:
        set_condition(
            status,
            "Initialized",
            "False",
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(pending_init)}]",
            probe_times=True,
        )
    else:
        set_condition(status, "Initialized", "True", "", "", probe_times=True)
    unready = [s["name"] for s in statuses if not s["ready"]]
    if done:
        reason, message, ready = "PodCompleted", "", "False"
    elif unready:
        reason = "ContainersNotReady"
        message = f"containers with unready status: [{' '.join(unready)}]"
        ready = "False"
    else:
        reason, message, ready = "", "", "True"
    set_condition(status, "Ready", ready, reason, message, probe_times=True)
    set_condition(status, "ContainersReady", ready, reason, message, probe_times=True)
    if get_condition(status, "PodScheduled") is None:
        set_condition(status, "PodScheduled", "True", "", "", probe_times=True)
    status["conditions"] = sorted(status["conditions"], key=_condition_order)
    return status


def container_status(crun: ContainerRun, at: float, killing: bool) -> dict:
    ready = (
        crun.phase == RUNNING and not killing and crun.ready_at is not None and at >= crun.ready_at
    )
    out: dict[str, Any] = {}
    if crun.handle is not None or crun.terminated is not None:
        cid = (
            crun.handle.container_id
            if crun.handle is not None
            else crun.terminated.get("containerID")
        )
        if cid:
            out["containerID"] = cid
    out["image"] = crun.image or crun.spec.get("image", "")
    out["imageID"] = crun.image_id
    last = dict(crun.last_terminated) if crun.last_terminated else None
    out["lastState"] = {"terminated": last} if last else {}
    out["name"] = crun.name
    out["ready"] = ready
    out["restartCount"] = crun.restart_count
    out["started"] = crun.phase == RUNNING
    if crun.phase == RUNNING:
        out["state"] = {"running": {"startedAt": rfc3339(crun.started_at)}}
    elif crun.phase == EXITED or (crun.phase == CRASH_BACKOFF and not crun.waiting_reason):
        out["state"] = {"terminated": dict(crun.terminated or {})}
    else:
        waiting: dict[str, Any] = {"reason": crun.waiting_reason or "ContainerCreating"}
        if crun.waiting_message:
            waiting["message"] = crun.waiting_message
        out["state"] = {"waiting": waiting}
        if crun.phase in (CRASH_BACKOFF, CONFIG_ERROR) and crun.terminated:
            out["lastState"] = {"terminated": dict(crun.terminated)}
    return out


def _phase(pod: dict, run: PodRun) -> str:
    for crun in run.init_containers:
        if crun.phase == EXITED and (crun.terminated or {}).get("exitCode", 0) != 0:
            return "Failed"  # restartPolicy Never: a failed init container fails the pod
    if not run.initialized():
        return "Pending"
    runs = list(run.containers.values())
    if any(not c.ever_started and c.phase != EXITED for c in runs):
        return "Pending"
    if any(c.phase != EXITED for c in runs):
        return "Running"
    codes = [(c.terminated or {}).get("exitCode", 0) for c in runs]
    return "Succeeded" if all(code == 0 for code in codes) else "Failed"


def _init_done(crun: ContainerRun) -> bool:
    return crun.phase == EXITED and (crun.terminated or {}).get("exitCode", 0) == 0


_ORDER = {
    "PodReadyToStartContainers": 0,
    "Initialized": 1,
    "Ready": 2,
    "ContainersReady": 3,
    "PodScheduled": 4,
}


def _condition_order(cond: dict) -> int:
    return _ORDER.get(cond.get("type", ""), 5)
