"""What the deployment page draws of a rollout: how far a rolling update has got (the new
and old ReplicaSets side by side, the surge and unavailable pods against the limits the
strategy allows) and the difference between two kept revisions. Pure: it reads what
rollouts.rollout_state and the watcher's ReplicaSets already hold.
"""

from __future__ import annotations

import math

from . import rollouts

# The Deployment's defaults when the strategy leaves them out (apps/v1).
DEFAULT_SURGE = "25%"
DEFAULT_UNAVAILABLE = "25%"


def resolve_int_or_percent(value: object, total: int, *, round_up: bool) -> int | None:
    """An IntOrString of a rolling update as a number of pods (maxSurge rounds up,
    maxUnavailable down, as the deployment controller resolves them); None when malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(value, 0)
    text = str(value).strip()
    if text.endswith("%"):
        try:
            percent = int(text[:-1])
        except ValueError:
            return None
        exact = percent * total / 100
        return max(math.ceil(exact) if round_up else math.floor(exact), 0)
    try:
        return max(int(text), 0)
    except ValueError:
        return None


def strategy_limits(deployment: dict) -> dict:
    """{"type", "max_surge", "max_unavailable"}, resolved to pods (None for Recreate)."""
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type") or "RollingUpdate"
    if kind != "RollingUpdate":
        return {"type": kind, "max_surge": None, "max_unavailable": None}
    desired = int(spec.get("replicas", 1) or 0)
    rolling = strategy.get("rollingUpdate") or {}
    surge = resolve_int_or_percent(rolling.get("maxSurge", DEFAULT_SURGE), desired, round_up=True)
    unavailable = resolve_int_or_percent(
        rolling.get("maxUnavailable", DEFAULT_UNAVAILABLE), desired, round_up=False
    )
    # The controller refuses to stall: both zero would mean no pod may ever move.
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return {"type": kind, "max_surge": surge, "max_unavailable": unavailable}


def _bar(rs: dict, *, new: bool) -> dict:
    return {**rs, "new": new, "ready_of_desired": f"{rs['ready']}/{rs['desired']}"}


def rollout_progress(deployment: dict, state: dict) -> dict:
    """The rollout card: new and old ReplicaSets with desired/ready, pods by where they are
    going (starting, serving, terminating), and surge/unavailable against the limits."""
    limits = strategy_limits(deployment)
    replicas = state["replicas"]
    new_rs = state["new_replicaset"]
    new_revision = new_rs["revision"] if new_rs else None
    pods = state["pods"]
    terminating = sum(1 for p in pods if p["terminating"])
    starting = sum(1 for p in pods if not p["terminating"] and not p["ready"])
    return {
        "limits": limits,
        "new": _bar(new_rs, new=True) if new_rs else None,
        "old": [_bar(rs, new=False) for rs in state["old_replicasets"]],
        "surge": replicas["surge"],
        "unavailable": replicas["unavailable"],
        "over_surge": limits["max_surge"] is not None and replicas["surge"] > limits["max_surge"],
        "over_unavailable": (
            limits["max_unavailable"] is not None
            and replicas["unavailable"] > limits["max_unavailable"]
        ),
        "pods_total": len(pods),
        "pods_new": sum(1 for p in pods if new_revision and p["revision"] == new_revision),
        "pods_starting": starting,
        "pods_terminating": terminating,
        "in_progress": state["state"] not in ("complete",) or bool(state["old_replicasets"]),
    }


def revision_compare(
    replicasets: list[dict], kept: list[int], wanted: tuple[object, object] | None
) -> dict | None:
    """The pod template's changes between two kept revisions (default: the one before the
    newest, then the newest), for the page's compare form; None with fewer than two."""
    if len(kept) < 2:
        return None
    left, right = kept[1], kept[0]
    error = ""
    if wanted is not None:
        try:
            left, right = int(wanted[0]), int(wanted[1])
        except (TypeError, ValueError):
            error = "from and to must be revision numbers"
            left, right = kept[1], kept[0]
    missing = [n for n in (left, right) if n not in kept]
    if missing:
        error = f"revision {missing[0]} is not in the history (kept: {', '.join(map(str, kept))})"
        left, right = kept[1], kept[0]
    templates = [
        ((rollouts.replicaset_for_revision(replicasets, n) or {}).get("spec") or {}).get("template")
        or {}
        for n in (left, right)
    ]
    return {
        "from": left,
        "to": right,
        "kept": kept,
        "error": error,
        "changes": rollouts.template_diff(templates[0], templates[1]),
    }
