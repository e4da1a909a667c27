"""The usage model: how much CPU and memory each running container uses, and metrics.k8s.io.

Usage is either scripted (sandbox.scripting usage rules) or derived: a small idle base plus,
for pods that are ready endpoints of a Service with scripted load, their share of the requests
per second times the CPU each request costs. The HPA controller and the metrics.k8s.io API
read the same numbers, so `kubectl top` shows exactly what the autoscaler acted on. Noise is a
hash of (pod, container, time window): stable within a window and repeatable in tests.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from sandbox.kubelet.prometheus import PrometheusExporter
from sandbox.machinery.cache import Caches
from sandbox.machinery.quantity import millicores, quantity_bytes
from sandbox.machinery.util import format_cpu, format_memory, now, rfc3339
from sandbox.scripting import Script

API_VERSION = "metrics.k8s.io/v1beta1"
MIB = 2**20
# What the node's system daemons (kubelet, containerd, kube-proxy, fluentbit...) use.
NODE_SYSTEM_CPU_MILLI = 110.0
NODE_SYSTEM_MEMORY = 1_150 * MIB
DEFAULT_RPS_METRIC = "requests_per_second"


def _unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.blake2b("/".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class UsageModel:
    def __init__(self, cluster: Any, caches: Caches, script: Script) -> None:
        self.config = cluster.config
        self.caches = caches
        self.script = script
        self.prometheus = PrometheusExporter(self, cluster.api)
        # the process runtime, when there is one: real usage of the containers it runs
        self.measured: Any = None

    def prometheus_text(self, pod: dict) -> str:
        """The Prometheus exposition a serving pod would answer on /metrics (for the pod proxy)."""
        return self.prometheus.text(pod)

    # -- time windows ----------------------------------------------------------------------

    def _window(self, at: float) -> tuple[int, float]:
        width = max(self.config.metrics_window_seconds, 0.001)
        index = int(at // width)
        return index, index * width

    def sample_time(self, at: float) -> tuple[float, float]:
        """(timestamp, window) of the metric sample served at `at`, as metrics.k8s.io shows."""
        return self._window(at)[1], max(self.config.metrics_window_seconds, 0.001)

    def _noise(self, *parts: Any) -> float:
        amplitude = self.config.metrics_noise
        if not amplitude:
            return 1.0
        return 1.0 + amplitude * (2 * _unit(*parts) - 1)

    # -- load ------------------------------------------------------------------------------

    def loads_for(self, pod: dict) -> list[tuple[dict, float]]:
        """(load script, this pod's share of it) for every loaded Service it is ready behind."""
        ns = pod["metadata"].get("namespace") or ""
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or not self.script.loads:
            return []
        shares = []
        for (load_ns, name), load in self.script.loads.items():
            if load_ns != ns:
                continue
            endpoints = self.caches.endpoints.get(ns, name)
            if endpoints is None:
                continue
            ready = {
                a.get("ip")
                for s in endpoints.get("subsets") or []
                for a in s.get("addresses") or []
            }
            if ip in ready:
                shares.append((load, load["requestsPerSecond"] / len(ready)))
        return shares

    # -- usage -----------------------------------------------------------------------------

    def container_usage(
        self, pod: dict, container: dict, at: float | None = None
    ) -> tuple[float, float]:
        """(CPU millicores, memory bytes) the container uses now."""
        at = now() if at is None else at
        if self.measured is not None:
            real = self._measured(pod, container)
            if real is not None:
                return real
        window, _ = self._window(at)
        uid = pod["metadata"].get("uid", "")
        name = container["name"]
        scripted = self.script.usage_for(pod, container) or {}
        requests = (container.get("resources") or {}).get("requests") or {}
        if "cpu" in scripted:
            cpu = float(millicores(scripted["cpu"]))
        else:
            cpu = 1.0 + 3.0 * _unit(uid, name, "cpu")
        if "memory" in scripted:
            memory = float(quantity_bytes(scripted["memory"]))
        elif "memory" in requests:
            memory = quantity_bytes(requests["memory"]) * (0.3 + 0.2 * _unit(uid, name, "mem"))
        else:
            memory = (20 + 40 * _unit(uid, name, "mem")) * MIB
        containers = pod["spec"].get("containers") or []
        if containers and containers[0].get("name") == name:
            # The first container is the one serving the Service's traffic.
            for load, share in self.loads_for(pod):
                per_request = (
                    millicores(load["cpuPerRequest"])
                    if "cpuPerRequest" in load
                    else self.config.cpu_millicores_per_request
                )
                cpu += share * per_request
                memory += share * 0.05 * MIB
        cpu *= self._noise(uid, name, "cpu", window)
        memory *= self._noise(uid, name, "mem", window)
        return max(cpu, 0.0), max(memory, 0.0)

    def _measured(self, pod: dict, container: dict) -> tuple[float, float] | None:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") == container["name"]:
                cid = status.get("containerID", "")
                if cid.startswith("process://"):
                    usage = self.measured.usage(cid)
                    return (usage[0], float(usage[1])) if usage is not None else (0.0, 0.0)
        return None

    def pod_usage(
        self, pod: dict, at: float | None = None
    ) -> dict[str, tuple[float, float]] | None:
        """Usage of each running container, or None when the pod has no metrics (not running)."""
        status = pod.get("status") or {}
        if status.get("phase") != "Running":
            return None
        running = {
            c.get("name")
            for c in status.get("containerStatuses") or []
            if "running" in (c.get("state") or {})
        }
        if not running:
            return None
        return {
            c["name"]: self.container_usage(pod, c, at)
            for c in pod["spec"].get("containers") or []
            if c["name"] in running
        }

    # -- custom metrics (HPA Pods / Object metrics) -----------------------------------------

    def pod_metric(self, pod: dict, metric: str) -> float | None:
        value = self.script.pod_metric(pod, metric)
        if value is not None:
            return value
        for load, share in self.loads_for(pod):
            if load.get("metricName", DEFAULT_RPS_METRIC) == metric:
                return share
        return None

    def object_metric(self, ns: str, kind: str, name: str, metric: str) -> float | None:
        value = self.script.object_metric(ns, kind, name, metric)
        if value is not None:
            return value
        load = self.script.loads.get((ns, name)) if kind == "Service" else None
        if load is not None:
            if load.get("metricName", DEFAULT_RPS_METRIC) == metric:
                return load["requestsPerSecond"]
            if metric in ("latency_milliseconds", "latency_ms") and "latencyMilliseconds" in load:
                return load["latencyMilliseconds"]
        return None

    # -- metrics.k8s.io --------------------------------------------------------------------

    def pod_metrics(self, ns: str | None = None) -> list[dict]:
        at = now()
        _, start = self._window(at)
        stamp = rfc3339(start)
        window = f"{self.config.metrics_window_seconds:g}s"
        pods = (
            self.caches.pods.by("namespace", ns) if ns else list(self.caches.pods.objects.values())
        )
        out = []
        for pod in pods:
            usage = self.pod_usage(pod, at)
            if usage is None:
                continue
            meta = pod["metadata"]
            out.append(
                {
                    "kind": "PodMetrics",
                    "apiVersion": API_VERSION,
                    "metadata": {
                        "name": meta["name"],
                        "namespace": meta.get("namespace"),
                        "labels": dict(meta.get("labels") or {}),
                        "creationTimestamp": rfc3339(at),
                    },
                    "timestamp": stamp,
                    "window": window,
                    "containers": [
                        {
                            "name": name,
                            "usage": {"cpu": format_cpu(cpu), "memory": format_memory(mem)},
                        }
                        for name, (cpu, mem) in usage.items()
                    ],
                }
            )
        out.sort(key=lambda m: (m["metadata"]["namespace"] or "", m["metadata"]["name"]))
        return out

    def node_metrics(self) -> list[dict]:
        at = now()
        window_index, start = self._window(at)
        stamp = rfc3339(start)
        window = f"{self.config.metrics_window_seconds:g}s"
        out = []
        for (_, name), node in sorted(self.caches.nodes.objects.items()):
            cpu = NODE_SYSTEM_CPU_MILLI * self._noise(name, "cpu", window_index)
            memory = NODE_SYSTEM_MEMORY * self._noise(name, "mem", window_index)
            for pod in self.caches.pods.by("node", name):
                for c_cpu, c_mem in (self.pod_usage(pod, at) or {}).values():
                    cpu += c_cpu
                    memory += c_mem
            out.append(
                {
                    "kind": "NodeMetrics",
                    "apiVersion": API_VERSION,
                    "metadata": {
                        "name": name,
                        "labels": dict(node["metadata"].get("labels") or {}),
                        "creationTimestamp": rfc3339(at),
                    },
                    "timestamp": stamp,
                    "window": window,
                    "usage": {"cpu": format_cpu(cpu), "memory": format_memory(math.ceil(memory))},
                }
            )
        return out
