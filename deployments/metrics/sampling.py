"""The sampling cycle: read metrics.k8s.io once per cluster, store the records, tell watchers.

One cycle makes two list calls (every PodMetrics, every NodeMetrics), reads the cluster's
Deployments and HPAs from the watcher's cache (or one list each when it is not synced), and
writes every record in one Redis pipeline. A Redis lock keeps two cycles of one cluster from
overlapping (a slow cycle makes the next beat tick skip, not pile up).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal

import redis
from django.conf import settings

from controlplane.broadcast import broadcast, group_name
from controlplane.clusters.models import Cluster
from controlplane.kube.errors import KubeError
from controlplane.kube.metrics import MetricsApiAbsent, node_metrics_list, pod_metrics_list
from controlplane.kube.quantities import parse_quantity
from controlplane.live.snapshot import snapshot_get

from .store import SeriesStore

log = logging.getLogger(__name__)

SOURCE = "metrics.k8s.io"
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value: object) -> float:
    """A quantity as a float: the metrics server's forms ("12345n", "5m", "1024Ki") directly,
    anything else through the kube layer's exact parser (a cycle parses 60,000 of them)."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    last = text[-1:]
    try:
        if last.isdigit():
            return float(text)
        if last == "i":
            return float(text[:-2]) * _BINARY[text[-2:]]
        return float(text[:-1]) * _DECIMAL[last]
    except (KeyError, ValueError):
        return float(parse_quantity(text) / Decimal(1))


_clients: dict[str, redis.Redis] = {}


def metrics_redis() -> redis.Redis:
    """A client of its own: series are bytes (the live cache's client decodes to text), and a
    cycle's pipeline of 60,000 commands may take longer than that client's 5 s timeout."""
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=60, health_check_interval=10
        )
    return client


def store_for(cluster_name: str) -> SeriesStore:
    return SeriesStore(metrics_redis(), prefix=settings.REDIS_PREFIX, cluster=cluster_name)


@dataclass
class CycleResult:
    status: str  # "ok", "absent" (no metrics API), "error", "skipped" (a cycle is running)
    message: str = ""
    at: float = 0.0
    seconds: float = 0.0
    fetch_seconds: float = 0.0
    pods: int = 0
    nodes: int = 0
    deployments: int = 0
    hours_to_compact: list[int] = field(default_factory=list)


def _selects(selector: dict, labels: dict) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _hpa_fields(hpa: dict | None) -> tuple[float, float, float, float]:
    """(current replicas, desired replicas, first metric's current, its target); NaN absent.

    Utilization targets are in % of the request, value targets in their own quantity."""
    nan = float("nan")
    if not hpa:
        return nan, nan, nan, nan
    status = hpa.get("status") or {}
    current = float(status.get("currentReplicas", nan))
    desired = float(status.get("desiredReplicas", nan))
    metrics = (hpa.get("spec") or {}).get("metrics") or []
    if not metrics:
        return current, desired, nan, nan
    spec = metrics[0]
    source = spec.get(spec.get("type", "")[:1].lower() + spec.get("type", "")[1:]) or {}
    target = source.get("target") or {}
    now_blocks = status.get("currentMetrics") or []
    now = {}
    if now_blocks:
        block = now_blocks[0]
        now = (block.get(block.get("type", "")[:1].lower() + block.get("type", "")[1:]) or {}).get(
            "current"
        ) or {}
    if target.get("type") == "Utilization":
        wanted = target.get("averageUtilization")
        seen = now.get("averageUtilization")
    else:
        wanted = target.get("averageValue") or target.get("value")
        seen = now.get("averageValue") or now.get("value")
    return (
        current,
        desired,
        nan if seen is None else quantity(seen),
        nan if wanted is None else quantity(wanted),
    )


def hpa_metric_label(hpa: dict | None) -> str:
    """What the autoscaler series measure, in words ("cpu utilization (% of request)")."""
    metrics = ((hpa or {}).get("spec") or {}).get("metrics") or []
    if not metrics:
        return ""
    spec = metrics[0]
    kind = spec.get("type", "")
    source = spec.get(kind[:1].lower() + kind[1:]) or {}
    name = source.get("name") or (source.get("metric") or {}).get("name") or kind.lower()
    target = source.get("target") or {}
    if target.get("type") == "Utilization":
        return f"{name} utilization (% of request)"
    return f"{name} (average per pod)" if target.get("averageValue") else name


def _deployment_records(
    cluster: Cluster, pods: dict[tuple[str, str], tuple[float, float, dict]]
) -> tuple[dict[str, tuple[float, ...]], dict[str, list[str]], dict[str, str]]:
    deployments = snapshot_get(cluster=cluster, kind="deployments").objects
    hpas = snapshot_get(cluster=cluster, kind="horizontalpodautoscalers").objects
    by_target = {}
    for hpa in hpas:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment":
            by_target[(hpa["metadata"].get("namespace"), ref.get("name"))] = hpa
    # Index the pods by one (namespace, label, value) so each deployment checks only the pods
    # that carry its first matchLabels pair, not every pod of its namespace.
    wanted = {
        (d["metadata"].get("namespace"), next(iter(match)))
        for d in deployments
        if (match := ((d.get("spec") or {}).get("selector") or {}).get("matchLabels"))
    }
    index: dict[tuple[str, str, str], list[tuple[str, float, float, dict]]] = {}
    for (ns, name), (cpu, memory, labels) in pods.items():
        for key, value in labels.items():
            if (ns, key) in wanted:
                index.setdefault((ns, key, value), []).append((name, cpu, memory, labels))
    records: dict[str, tuple[float, ...]] = {}
    members: dict[str, list[str]] = {}
    labels_of_hpa: dict[str, str] = {}
    for d in deployments:
        meta = d["metadata"]
        ns, name = meta.get("namespace"), meta["name"]
        selector = (d.get("spec") or {}).get("selector") or {}
        match = selector.get("matchLabels") or {}
        if match:
            key, value = next(iter(match.items()))
            candidates = index.get((ns, key, value), [])
        else:
            candidates = [(n, c, m, lb) for (pns, n), (c, m, lb) in pods.items() if pns == ns]
        mine = [c for c in candidates if selector and _selects(selector, c[3])]
        status = d.get("status") or {}
        hpa = by_target.get((ns, name))
        records[f"d/{ns}/{name}"] = (
            float((d.get("spec") or {}).get("replicas", 1)),
            float(status.get("readyReplicas", 0)),
            sum(c[1] for c in mine),
            sum(c[2] for c in mine),
            *_hpa_fields(hpa),
        )
        members[f"{ns}/{name}"] = [c[0] for c in mine]
        if hpa:
            labels_of_hpa[f"{ns}/{name}"] = hpa_metric_label(hpa)
    return records, members, labels_of_hpa


def metrics_sample(*, cluster: Cluster, now: float | None = None) -> CycleResult:
    """Take one sample of `cluster` and store it; broadcasts to live subscribers after."""
    store = store_for(cluster.name)
    interval = int(settings.METRICS_INTERVAL)
    lock = store.client.lock(store.lock_key, timeout=max(4 * interval, 60), blocking=False)
    if not lock.acquire(blocking=False):
        return CycleResult(status="skipped", message="the previous cycle is still running")
    try:
        return _cycle(cluster=cluster, store=store, interval=interval, now=now)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # expired under a cycle slower than its timeout
            log.warning("metrics lock of %s expired before the cycle ended", cluster.name)


def _cycle(
    *, cluster: Cluster, store: SeriesStore, interval: int, now: float | None
) -> CycleResult:
    started = time.monotonic()
    at = time.time() if now is None else now
    conn = cluster.connection()
    try:
        pod_items = pod_metrics_list(conn)
        node_items = node_metrics_list(conn)
    except MetricsApiAbsent as exc:
        store.state_set(status="absent", message=exc.message, checked_at=at)
        return CycleResult(status="absent", message=exc.message, at=at)
    except KubeError as exc:
        store.state_set(status="error", message=exc.message, checked_at=at)
        log.warning("metrics of cluster %s: %s", cluster.name, exc.message)
        return CycleResult(status="error", message=exc.message, at=at)
    fetched = time.monotonic()
    samples: dict[str, tuple[float, ...]] = {}
    pods: dict[tuple[str, str], tuple[float, float, dict]] = {}
    for item in pod_items:
        meta = item.get("metadata") or {}
        cpu = memory = 0.0
        for container in item.get("containers") or []:
            usage = container.get("usage") or {}
            cpu += quantity(usage.get("cpu", 0))
            memory += quantity(usage.get("memory", 0))
        ns, name = meta.get("namespace") or "", meta.get("name") or ""
        samples[f"p/{ns}/{name}"] = (cpu, memory)
        pods[(ns, name)] = (cpu, memory, meta.get("labels") or {})
    for item in node_items:
        usage = item.get("usage") or {}
        name = (item.get("metadata") or {}).get("name") or ""
        samples[f"n/{name}"] = (quantity(usage.get("cpu", 0)), quantity(usage.get("memory", 0)))
    records, members, hpa_labels = _deployment_records(cluster, pods)
    samples.update(records)
    retention = int(settings.METRICS_RETENTION)
    store.write(at=at, interval=interval, samples=samples, members=members, retention=retention)
    if hpa_labels:
        store.client.hset(f"{store.base}:hpa", mapping=hpa_labels)
    store.prune(now=at, interval=interval, retention=retention)
    seconds = time.monotonic() - started
    store.state_set(
        status="ok",
        message="",
        checked_at=at,
        last_sample=at,
        interval=interval,
        cycle_seconds=round(seconds, 4),
        fetch_seconds=round(fetched - started, 4),
        pods=len(pod_items),
        nodes=len(node_items),
        deployments=len(records),
    )
    result = CycleResult(
        status="ok",
        at=at,
        seconds=seconds,
        fetch_seconds=fetched - started,
        pods=len(pod_items),
        nodes=len(node_items),
        deployments=len(records),
        hours_to_compact=store.hours_to_compact(now=at),
    )
    _announce(cluster=cluster, store=store, at=at, samples=samples, members=members)
    return result


def sample_message(
    *, cluster: str, series: str, at: float, samples: dict, members: dict
) -> dict | None:
    """The live message for one watched series after a cycle (None: it had no sample)."""
    record = samples.get(series)
    if record is None:
        return None
    nan_free = [None if v != v else v for v in record]
    payload: dict = {"type": "metrics.sample", "cluster": cluster, "series": series, "t": at}
    if series.startswith("d/"):
        fields = dict(zip(("replicas", "ready", "cpu", "memory"), nan_free[:4], strict=True))
        fields.update(zip(("hpa_current", "hpa_target"), nan_free[6:8], strict=True))
        ns = series.split("/", 2)[1]
        payload["values"] = fields
        payload["pods"] = {
            pod: list(samples[f"p/{ns}/{pod}"])
            for pod in members.get(series[2:], [])
            if f"p/{ns}/{pod}" in samples
        }
    else:
        payload["values"] = {"cpu": nan_free[0], "memory": nan_free[1]}
    return payload


def metrics_group(*, cluster: str, series: str) -> str:
    return group_name("metrics", cluster, series)


def _announce(*, cluster: Cluster, store: SeriesStore, at: float, samples: dict, members: dict):
    # Only series someone watches: a cycle of 30,000 pods must not send 30,000 messages.
    for series in store.watched():
        message = sample_message(
            cluster=cluster.name, series=series, at=at, samples=samples, members=members
        )
        if message is None:
            continue
        try:
            broadcast(
                group=metrics_group(cluster=cluster.name, series=series),
                message={"type": "stream.message", "payload": message},
            )
        except Exception:
            log.exception("broadcasting metrics of %s %s failed", cluster.name, series)
