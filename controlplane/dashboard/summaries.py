"""What the overview computes: nodes' capacity against what their pods request, workload
counts and the latest events. Pure functions of the objects and tallies given (the tallies
of pods, deployments, ... are kept by the watcher: controlplane.live.tallies)."""

import logging
from dataclasses import dataclass
from decimal import Decimal

from controlplane.kube.objects import object_name, object_namespace, object_time
from controlplane.live.snapshot import Snapshot
from controlplane.live.tallies import (
    event_time,
    namespace_total,
    node_usage,
    pod_phases,
    pod_requests,
    tally,
)

from .quantities import format_bytes, format_cpu, parse_quantity

log = logging.getLogger(__name__)

GPU_RESOURCE = "nvidia.com/gpu"
__all__ = ["NodeRow", "node_rows", "node_rows_from_tallies", "pod_requests", "recent_events"]


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


def node_rows(nodes: list[dict], pods: list[dict]) -> list[NodeRow]:
    return node_rows_from_tallies(nodes, tally("pods", pods))


def node_rows_from_tallies(nodes: list[dict], pod_tallies: dict[str, int]) -> list[NodeRow]:
    pod_counts, requested = node_usage(pod_tallies)
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
                pods=pod_counts.get(name, 0),
                allocatable={
                    k: _quantity(v, f"node {name}")
                    for k, v in (status.get("allocatable") or {}).items()
                },
                requested=requested.get(name, {}),
            )
        )
    return rows


def recent_events(events: list[dict], limit: int = 15) -> list[dict]:
    ordered = sorted(events, key=event_time, reverse=True)[:limit]
    rows = []
    for event in ordered:
        involved = event.get("involvedObject") or {}
        stamp = event_time(event)
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


def workload_counts(
    snapshots: dict[str, Snapshot], tallies: dict[str, dict[str, int]], namespaces: set[str] | None
) -> list[dict]:
    """One row per workload kind from its tallies, counted over `namespaces` (None: all)."""
    rows = []

    def add(kind, label, detail=lambda total: ""):
        snap = snapshots[kind]
        counted = tallies.get(kind) or {}
        rows.append(
            {
                "kind": kind,
                "label": label,
                "total": namespace_total(counted, "ns", namespaces) if snap.ok else None,
                # The source note says why a kind is unavailable.
                "detail": detail(lambda name: namespace_total(counted, name, namespaces))
                if snap.ok
                else "",
                "source": snap,
            }
        )

    add("deployments", "Deployments", lambda n: f"{n('ready')} fully ready")
    phases = pod_phases(tallies.get("pods") or {}, namespaces)
    add(
        "pods",
        "Pods",
        lambda n: (
            ", ".join(f"{c} {phase.lower()}" for phase, c in sorted(phases.items())) or "none"
        ),
    )
    add("jobs", "Jobs", lambda n: f"{n('active')} active, {n('failed')} with failures")
    add("replicasets", "ReplicaSets")
    add("services", "Services", lambda n: f"{n('lb')} load balancers")
    add("horizontalpodautoscalers", "Autoscalers")
    add("ingresses", "Ingresses")
    return rows
