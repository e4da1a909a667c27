"""Counts the overview shows, kept per (cluster, kind) as objects change, not recounted per page.

Each object contributes a few integer counters (its `contributions`); the cache adds an
object's counters when it is stored and takes them away when it changes or goes, in the same
atomic step (controlplane.live.cache), so the tallies always equal the sum over the objects
cached. A page that has no trusted cache computes the same tallies from a live list with the
same function, so both paths show the same numbers.

Counter names (namespace and node names cannot contain ":"):
  ns:{namespace}                      objects in the namespace (every namespaced kind)
  phase:{namespace}:{phase}           pods by phase
  node:{node}                         pods holding resources on the node (not finished)
  req:{node}:{resource}               what those pods request, in thousandths (milli-units)
  ready:{namespace}                   deployments with every replica ready
  active:{namespace}, failed:{namespace}   jobs with active pods, with failures
  lb:{namespace}                      Services of type LoadBalancer
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from controlplane.kube.quantities import parse_quantity

log = logging.getLogger(__name__)

TERMINAL_PHASES = {"Succeeded", "Failed"}
MILLI = 1000


def _quantity(value, where: str) -> Decimal:
    try:
        return parse_quantity(value)
    except ValueError:
        log.warning("ignoring unparseable quantity %r in %s", value, where)
        return Decimal(0)


def pod_requests(pod: dict) -> dict[str, Decimal]:
    """What the scheduler reserves for a pod: max(sum of containers, largest init) + overhead."""
    spec = pod.get("spec") or {}
    where = f"pod {(pod.get('metadata') or {}).get('name')}"
    total: dict[str, Decimal] = defaultdict(Decimal)
    for container in spec.get("containers") or []:
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            total[name] += _quantity(value, where)
    for container in spec.get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            total[name] = max(total[name], _quantity(value, where))
    for name, value in (spec.get("overhead") or {}).items():
        total[name] += _quantity(value, where)
    return dict(total)


def _milli(amount: Decimal) -> int:
    return int((amount * MILLI).to_integral_value(rounding=ROUND_CEILING))


def _pod(obj: dict, namespace: str | None) -> dict[str, int]:
    status = obj.get("status") or {}
    phase = status.get("phase") or "Unknown"
    result = {f"ns:{namespace}": 1, f"phase:{namespace}:{phase}": 1} if namespace else {}
    node = (obj.get("spec") or {}).get("nodeName")
    if node and phase not in TERMINAL_PHASES:
        result[f"node:{node}"] = 1
        for resource, amount in pod_requests(obj).items():
            milli = _milli(amount)
            if milli:
                result[f"req:{node}:{resource}"] = milli
    return result


def _deployment(obj: dict, namespace: str) -> dict[str, int]:
    result = {f"ns:{namespace}": 1}
    desired = (obj.get("spec") or {}).get("replicas", 1)
    if (obj.get("status") or {}).get("readyReplicas", 0) >= (desired if desired is not None else 1):
        result[f"ready:{namespace}"] = 1
    return result


def _job(obj: dict, namespace: str) -> dict[str, int]:
    status = obj.get("status") or {}
    result = {f"ns:{namespace}": 1}
    if status.get("active"):
        result[f"active:{namespace}"] = 1
    if status.get("failed"):
        result[f"failed:{namespace}"] = 1
    return result


def _service(obj: dict, namespace: str) -> dict[str, int]:
    result = {f"ns:{namespace}": 1}
    if (obj.get("spec") or {}).get("type") == "LoadBalancer":
        result[f"lb:{namespace}"] = 1
    return result


_KINDS = {"deployments": _deployment, "jobs": _job, "services": _service}


# Kinds nothing counts: events are the most numerous kind (several per pod), and a counter
# kept per event would be Redis work on every one of them for nothing.
UNCOUNTED = frozenset({"events"})


def contributions(kind: str, obj: dict) -> dict[str, int]:
    """The counters one object adds to its kind's tallies (none for cluster-scoped objects)."""
    if kind in UNCOUNTED:
        return {}
    namespace = (obj.get("metadata") or {}).get("namespace")
    if kind == "pods":
        return _pod(obj, namespace)
    if not namespace:
        return {}
    counter = _KINDS.get(kind)
    return counter(obj, namespace) if counter else {f"ns:{namespace}": 1}


def tally(kind: str, objects: Iterable[dict]) -> dict[str, int]:
    """The tallies of a whole list (what the cache holds after a relist)."""
    total: Counter = Counter()
    for obj in objects:
        total.update(contributions(kind, obj))
    return {name: value for name, value in total.items() if value}


def encode_contributions(values: dict[str, int]) -> str:
    """Tab-separated name/value pairs, as the cache's Lua script reads them."""
    return "\t".join(f"{name}\t{value}" for name, value in values.items())


def decode_contributions(text: str) -> dict[str, int]:
    parts = text.split("\t") if text else []
    return {parts[i]: int(parts[i + 1]) for i in range(0, len(parts) - 1, 2)}


# Reading tallies ---------------------------------------------------------------------------


def namespace_total(tallies: dict[str, int], name: str, namespaces: set[str] | None) -> int:
    """Sum of `name:{namespace}` counters over `namespaces` (None: every namespace)."""
    prefix = f"{name}:"
    return sum(
        value
        for key, value in tallies.items()
        if key.startswith(prefix)
        and key.count(":") == 1
        and (namespaces is None or key[len(prefix) :] in namespaces)
    )


def per_namespace(tallies: dict[str, int], name: str = "ns") -> dict[str, int]:
    prefix = f"{name}:"
    return {
        key[len(prefix) :]: value
        for key, value in tallies.items()
        if key.startswith(prefix) and key.count(":") == 1
    }


def pod_phases(tallies: dict[str, int], namespaces: set[str] | None) -> dict[str, int]:
    phases: Counter = Counter()
    for key, value in tallies.items():
        if key.startswith("phase:"):
            _, namespace, phase = key.split(":", 2)
            if namespaces is None or namespace in namespaces:
                phases[phase] += value
    return {phase: n for phase, n in phases.items() if n}


def node_usage(tallies: dict[str, int]) -> tuple[dict[str, int], dict[str, dict[str, Decimal]]]:
    """(pods per node, requested amount per node and resource) from the pods' tallies."""
    pods: dict[str, int] = {}
    requested: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for key, value in tallies.items():
        if key.startswith("node:"):
            pods[key[5:]] = value
        elif key.startswith("req:"):
            _, node, resource = key.split(":", 2)
            requested[node][resource] = Decimal(value) / MILLI
    return pods, dict(requested)


# Ordering events by time -------------------------------------------------------------------


def event_time(event: dict) -> str:
    return (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def event_score(event: dict) -> float:
    """An event's time as epoch seconds, for the cache's newest-first index (0 when unknown)."""
    stamp = event_time(event)
    if not stamp:
        return 0.0
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
