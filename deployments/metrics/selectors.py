"""Reads of the stored metric series, role-checked, in the shape the API and charts use.

Every series says where its numbers come from and how old its newest sample is; a cluster
without a metrics API, or a target without samples yet, is reported as such (`status`), never
as an empty or invented series.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.exceptions import ValidationError

from controlplane.dashboard.summaries import GPU_RESOURCE, node_rows
from controlplane.live.snapshot import snapshot_get

from .access import metrics_require_view
from .sampling import SOURCE, store_for
from .store import FIELDS, FIVE_MINUTE_STEP, HOUR, MINUTE_STEP

if TYPE_CHECKING:
    from controlplane.accounts.types import User
    from controlplane.clusters.models import Cluster

_WINDOW = re.compile(r"([1-9][0-9]{0,4})([mhd])")
_UNIT_SECONDS = {"m": 60, "h": HOUR, "d": 24 * HOUR}
DEFAULT_WINDOW = "1h"
REPLICAS_SOURCE = "apps/v1 Deployment status"
AUTOSCALER_SOURCE = "autoscaling/v2 HorizontalPodAutoscaler status"


def metrics_window_parse(raw: object) -> int:
    """ "15m", "1h", "6h", "24h", "1d" -> seconds; ValidationError naming `window` otherwise."""
    if raw is None or raw == "":
        raw = DEFAULT_WINDOW
    match = _WINDOW.fullmatch(raw) if isinstance(raw, str) else None
    retention = int(settings.METRICS_RETENTION)
    if match is None:
        raise ValidationError(
            {"window": [f"must be a number followed by m, h or d (e.g. 15m, 6h), got {raw!r}"]}
        )
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds < 60 or seconds > retention:
        raise ValidationError(
            {"window": [f"must be between 1m and the retention ({retention // HOUR}h)"]}
        )
    return seconds


def step_for(window: int, interval: int) -> int:
    """Raw samples up to an hour, 1-minute means up to six, 5-minute means beyond: at most a
    few hundred points per series whatever the window."""
    if window <= HOUR:
        return interval
    if window <= 6 * HOUR:
        return max(MINUTE_STEP, interval)
    return max(FIVE_MINUTE_STEP, interval)


def _series(*, name: str, label: str, unit: str, source: str, points: list, now: float) -> dict:
    newest = points[-1][0] if points else None
    return {
        "name": name,
        "label": label,
        "unit": unit,
        "source": source,
        "points": points,
        "newest_sample_at": newest,
        "newest_sample_age_seconds": None if newest is None else round(now - newest, 3),
    }


def _field(records: list, index: int) -> list[list[float]]:
    return [[t, fields[index]] for t, fields in records if fields[index] is not None]


class _Query:
    def __init__(self, *, cluster: Cluster, window: object) -> None:
        self.cluster = cluster
        self.window = metrics_window_parse(window)
        self.store = store_for(cluster.name)
        self.state = self.store.state()
        self.interval = int(self.state.get("interval") or settings.METRICS_INTERVAL)
        self.step = step_for(self.window, self.interval)
        self.now = time.time()
        self.start = self.now - self.window

    def read(self, series: list[str]) -> dict[str, list]:
        return self.store.read(
            series=series, start=self.start, end=self.now, step=self.step, interval=self.interval
        )

    def body(self, *, kind: str, target: dict, series: list[dict], extra: dict | None = None):
        status, message = "ok", ""
        has_points = any(s["points"] for s in series)
        if self.state.get("status") == "absent":
            status, message = "no_metrics_api", self.state.get("message", "")
        elif not has_points:
            status = "no_samples"
            message = (
                f"no samples of this {kind} in the last {self.window // 60} minutes"
                if self.state.get("last_sample")
                else "the cluster has not been sampled yet (is Celery beat running?)"
            )
            if self.state.get("status") == "error":
                message = f"the last sampling failed: {self.state.get('message', '')}"
        if status != "ok":
            series = []
        last = self.state.get("last_sample")
        return {
            "cluster": self.cluster.name,
            "kind": kind,
            **target,
            "window_seconds": self.window,
            "step_seconds": self.step,
            "interval_seconds": self.interval,
            "status": status,
            "message": message,
            "last_cycle_at": float(last) if last else None,
            "last_cycle_seconds": float(self.state["cycle_seconds"])
            if self.state.get("cycle_seconds")
            else None,
            "series": series,
            **(extra or {}),
        }


def metrics_pod_get(
    *, user: User, cluster: Cluster, namespace: str, name: str, window: object
) -> dict:
    metrics_require_view(user=user, cluster=cluster, namespace=namespace)
    q = _Query(cluster=cluster, window=window)
    records = q.read([f"p/{namespace}/{name}"])[f"p/{namespace}/{name}"]
    series = [
        _series(name="cpu", label=name, unit="cores", source=SOURCE,
                points=_field(records, 0), now=q.now),
        _series(name="memory", label=name, unit="bytes", source=SOURCE,
                points=_field(records, 1), now=q.now),
    ]  # fmt: skip
    return q.body(kind="pod", target={"namespace": namespace, "name": name}, series=series)


def metrics_deployment_get(
    *, user: User, cluster: Cluster, namespace: str, name: str, window: object
) -> dict:
    metrics_require_view(user=user, cluster=cluster, namespace=namespace)
    q = _Query(cluster=cluster, window=window)
    pods = q.store.members(deployment=f"{namespace}/{name}", start=q.start, end=q.now)
    own = f"d/{namespace}/{name}"
    read = q.read([own, *[f"p/{namespace}/{pod}" for pod in pods]])
    deployment = read[own]
    series: list[dict] = []
    for index, metric, unit in ((0, "cpu", "cores"), (1, "memory", "bytes")):
        for pod in pods:
            points = _field(read[f"p/{namespace}/{pod}"], index)
            if points:
                series.append(
                    _series(name=metric, label=pod, unit=unit, source=SOURCE, points=points,
                            now=q.now)
                )  # fmt: skip
        total = _field(deployment, FIELDS["d"].index(metric))
        series.append(
            _series(name=metric, label="total", unit=unit, source=SOURCE, points=total, now=q.now)
        )
    replicas = [
        _series(name="replicas", label=label, unit="pods", source=REPLICAS_SOURCE,
                points=_field(deployment, FIELDS["d"].index(field)), now=q.now)
        for label, field in (("spec", "replicas"), ("ready", "ready"))
    ]  # fmt: skip
    hpa_label = q.store.client.hget(f"{q.store.base}:hpa", f"{namespace}/{name}")
    autoscaler = [
        _series(name="autoscaler", label=label, unit=unit, source=AUTOSCALER_SOURCE,
                points=_field(deployment, FIELDS["d"].index(field)), now=q.now)
        for label, field, unit in (
            ("current", "hpa_current", (hpa_label or b"").decode()),
            ("target", "hpa_target", (hpa_label or b"").decode()),
            ("current replicas", "hpa_current_replicas", "pods"),
            ("desired replicas", "hpa_desired_replicas", "pods"),
        )
    ]  # fmt: skip
    series += replicas + [s for s in autoscaler if s["points"]]
    return q.body(kind="deployment", target={"namespace": namespace, "name": name}, series=series)


def _capacity(cluster: Cluster, node: str) -> dict:
    """Allocatable and requested now (not a history): the node object and its pods' requests."""
    nodes = snapshot_get(cluster=cluster, kind="nodes")
    pods = snapshot_get(cluster=cluster, kind="pods")
    mine = [n for n in nodes.objects if n["metadata"]["name"] == node]
    rows = node_rows(mine, pods.objects)
    if not rows or not nodes.ok:
        return {"capacity": None}
    row = rows[0]

    def number(mapping: dict, key: str) -> float | None:
        value = mapping.get(key)
        return None if value is None else float(value)

    return {
        "capacity": {
            "allocatable": {
                "cpu": number(row.allocatable, "cpu"),
                "memory": number(row.allocatable, "memory"),
                "gpu": number(row.allocatable, GPU_RESOURCE),
            },
            "requested": {
                "cpu": float(row.requested.get("cpu", Decimal(0))),
                "memory": float(row.requested.get("memory", Decimal(0))),
                "gpu": float(row.requested.get(GPU_RESOURCE, Decimal(0))),
            },
            "source": f"nodes: {nodes.source}, pods: {pods.source}",
            "as_of": min((x for x in (nodes.as_of, pods.as_of) if x is not None), default=None),
        }
    }


def metrics_node_get(*, user: User, cluster: Cluster, name: str, window: object) -> dict:
    metrics_require_view(user=user, cluster=cluster, namespace=None)
    q = _Query(cluster=cluster, window=window)
    records = q.read([f"n/{name}"])[f"n/{name}"]
    series = [
        _series(name="cpu", label="used", unit="cores", source=SOURCE,
                points=_field(records, 0), now=q.now),
        _series(name="memory", label="used", unit="bytes", source=SOURCE,
                points=_field(records, 1), now=q.now),
    ]  # fmt: skip
    return q.body(kind="node", target={"name": name}, series=series, extra=_capacity(cluster, name))
