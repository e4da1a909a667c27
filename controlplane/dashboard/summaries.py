"""What the overview computes from cluster objects: nodes' capacity against what their pods
request, workload counts and the latest events. Pure functions of the objects given."""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from controlplane.kube.objects import object_name, object_namespace, object_time
from controlplane.live.snapshot import Snapshot

from .quantities import format_bytes, format_cpu, parse_quantity

log = logging.getLogger(__name__)

GPU_RESOURCE = "nvidia.com/gpu"
_TERMINAL_PHASES = {"Succeeded", "Failed"}


@dataclass
class NodeRow:
    name: str
    ready: bool
    schedulable: bool
    pods: int
    allocatable: dict[str, Decimal]
    requested: dict[str, Decimal]

    def _cell(self, resource: str, fmt) -> dict:
        alloc = self.allocatable.get(resource, Decimal(0))
        used = self.requested.get(resource, Decimal(0))
        percent = int(used * 100 / alloc) if alloc else None
        return {"requested": fmt(used), "allocatable": fmt(alloc), "percent": percent}

    @property
    def cpu(self) -> dict:
        return self._cell("cpu", format_cpu)

    @property
    def memory(self) -> dict:
        return self._cell("memory", format_bytes)

    @property
    def gpu(self) -> dict | None:
        if not self.allocatable.get(GPU_RESOURCE):
            return None
        return self._cell(GPU_RESOURCE, lambda q: f"{q.normalize():f}")


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


def node_rows(nodes: list[dict], pods: list[dict]) -> list[NodeRow]:
    requested: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    pod_counts: Counter = Counter()
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("status") or {}).get("phase") in _TERMINAL_PHASES:
            continue
        pod_counts[node] += 1
        for resource, amount in pod_requests(pod).items():
            requested[node][resource] += amount
    rows = []
    for node in nodes:
        name = object_name(node)
        status = node.get("status") or {}
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        rows.append(
            NodeRow(
                name=name,
                ready=conditions.get("Ready") == "True",
                schedulable=not (node.get("spec") or {}).get("unschedulable", False),
                pods=pod_counts[name],
                allocatable={
                    k: _quantity(v, f"node {name}")
                    for k, v in (status.get("allocatable") or {}).items()
                },
                requested=dict(requested[name]),
            )
        )
    return rows


def _event_time(event: dict) -> str:
    return (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def recent_events(events: list[dict], limit: int = 15) -> list[dict]:
    ordered = sorted(events, key=_event_time, reverse=True)[:limit]
    rows = []
    for event in ordered:
        involved = event.get("involvedObject") or {}
        stamp = _event_time(event)
        rows.append(
            {
                "type": event.get("type", ""),
                "reason": event.get("reason", ""),
                "object": f"{involved.get('kind', '')}/{involved.get('name', '')}",
                "namespace": object_namespace(event),
                "message": event.get("message", ""),
                "count": event.get("count") or 1,
                "time": object_time(stamp, where=f"event {object_name(event)}"),
            }
        )
    return rows


def workload_counts(snapshots: dict[str, Snapshot]) -> list[dict]:
    rows = []

    def add(kind, label, total, detail):
        snap = snapshots[kind]
        rows.append(
            {
                "kind": kind,
                "label": label,
                "total": total if snap.ok else None,
                # The source note says why a kind is unavailable.
                "detail": detail if snap.ok else "",
                "source": snap,
            }
        )

    deployments = snapshots["deployments"].objects
    ready = sum(
        1
        for d in deployments
        if (d.get("status") or {}).get("readyReplicas", 0)
        >= (d.get("spec") or {}).get("replicas", 1)
    )
    add("deployments", "Deployments", len(deployments), f"{ready} fully ready")
    phases = Counter(
        (p.get("status") or {}).get("phase", "Unknown") for p in snapshots["pods"].objects
    )
    add(
        "pods",
        "Pods",
        sum(phases.values()),
        ", ".join(f"{n} {phase.lower()}" for phase, n in sorted(phases.items())) or "none",
    )
    jobs = snapshots["jobs"].objects
    active = sum(1 for j in jobs if (j.get("status") or {}).get("active"))
    failed = sum(1 for j in jobs if (j.get("status") or {}).get("failed"))
    add("jobs", "Jobs", len(jobs), f"{active} active, {failed} with failures")
    add("replicasets", "ReplicaSets", len(snapshots["replicasets"].objects), "")
    services = snapshots["services"].objects
    balancers = sum(1 for s in services if (s.get("spec") or {}).get("type") == "LoadBalancer")
    add("services", "Services", len(services), f"{balancers} load balancers")
    add(
        "horizontalpodautoscalers",
        "Autoscalers",
        len(snapshots["horizontalpodautoscalers"].objects),
        "",
    )
    add("ingresses", "Ingresses", len(snapshots["ingresses"].objects), "")
    return rows
