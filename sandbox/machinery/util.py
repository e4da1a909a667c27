"""Small helpers the controllers share: time stamps, conditions, owner references."""

from __future__ import annotations

import copy
import math
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def now() -> float:
    return time.time()


def rfc3339(ts: float | None = None) -> str:
    """Kubernetes metav1.Time: second precision, UTC, trailing Z."""
    moment = datetime.fromtimestamp(now() if ts is None else ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def format_cpu(milli: float) -> str:
    """metrics-server style CPU: nanocores for precision, like "12345678n"."""
    return f"{round(milli * 1_000_000)}n"


def format_memory(num_bytes: float) -> str:
    return f"{round(num_bytes / 1024)}Ki"


def meta_key(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


def controller_ref(obj: dict) -> dict | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: dict, *, api_version: str, kind: str) -> dict:
    meta = owner["metadata"]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def get_condition(status: dict | None, cond_type: str) -> dict | None:
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == cond_type:
            return cond
    return None


def set_condition(
    status: dict,
    cond_type: str,
    cond_status: str,
    reason: str,
    message: str,
    *,
    probe_times: bool = False,
    update_times: bool = False,
) -> bool:
    """Set a condition the way the upstream helpers do; returns True when something changed.

    lastTransitionTime only moves when the status flips, so clients can tell how long a
    condition has held. Deployment conditions also carry lastUpdateTime (update_times);
    pod conditions carry lastProbeTime (probe_times, left null as the kubelet does).
    """
    conditions = status.setdefault("conditions", [])
    stamp = rfc3339()
    current = get_condition(status, cond_type)
    if (
        current is not None
        and current.get("status") == cond_status
        and current.get("reason") == reason
        and current.get("message") == message
    ):
        return False
    cond: dict[str, Any] = {"type": cond_type, "status": cond_status}
    if probe_times:
        cond["lastProbeTime"] = None
    if update_times:
        cond["lastUpdateTime"] = stamp
    cond["lastTransitionTime"] = stamp
    if current is not None and current.get("status") == cond_status:
        cond["lastTransitionTime"] = current.get("lastTransitionTime") or stamp
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    if current is None:
        conditions.append(cond)
    else:
        conditions[conditions.index(current)] = cond
    return True


def remove_condition(status: dict, cond_type: str) -> bool:
    conditions = status.get("conditions") or []
    kept = [c for c in conditions if c.get("type") != cond_type]
    if len(kept) == len(conditions):
        return False
    status["conditions"] = kept
    return True


def pod_is_ready(pod: dict) -> bool:
    cond = get_condition(pod.get("status"), "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_is_active(pod: dict) -> bool:
    """Counts toward a controller's replicas: not terminal and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def pod_is_available(pod: dict, min_ready_seconds: int, at: float | None = None) -> bool:
    cond = get_condition(pod.get("status"), "Ready")
    if cond is None or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(cond.get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= (now() if at is None else at)


def deepcopy(obj: dict) -> dict:
    return copy.deepcopy(obj)


def int_or_percent(value: Any, total: int, *, round_up: bool, field: str) -> int:
    """intstr.GetScaledValueFromIntOrPercent: "25%" of total, rounded as asked."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = int(value[:-1])
        except ValueError as exc:
            raise ValueError(f"invalid value for {field}: {value!r}") from exc
        scaled = Decimal(percent) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError(f"invalid value for {field}: {value!r}")
