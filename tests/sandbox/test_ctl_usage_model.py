"""The usage model in-process: load spreads over ready endpoints, counters only grow."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from sandbox.kubelet.prometheus import PrometheusExporter
from sandbox.testing import running_cluster, until


def _serving_pods(store, n):
    store.create("namespaces", {"metadata": {"name": "ml"}})
    store.create(
        "services",
        {
            "metadata": {"name": "web", "namespace": "ml"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    for i in range(n):
        store.create(
            "pods",
            {
                "metadata": {
                    "name": f"web-{i}",
                    "namespace": "ml",
                    "labels": {"app": "web", "version": "v7"},
                },
                "spec": {"containers": [{"name": "server", "image": "acme/model:v7"}]},
            },
        )


def _ready_endpoints(store):
    endpoints = store.get("endpoints", "ml", "web")
    return endpoints and sum(len(s.get("addresses") or []) for s in endpoints.get("subsets") or [])


def test_scripted_load_is_shared_by_ready_endpoints_and_exposed_as_prometheus_counters():
    async def scenario():
        async with running_cluster(nodes=2) as cluster:
            _serving_pods(cluster.api, 2)
            await until(lambda: _ready_endpoints(cluster.api) == 2, "two ready endpoints")
            cluster.script.loads[("ml", "web")] = {
                "requestsPerSecond": 400.0,
                "cpuPerRequest": "2m",
            }

            usage = [
                cluster.metrics.pod_usage(cluster.api.get("pods", "ml", f"web-{i}"))
                for i in range(2)
            ]
            pod = cluster.api.get("pods", "ml", "web-0")
            first = cluster.metrics.prometheus_text(pod)
            await asyncio.sleep(0.2)
            second = cluster.metrics.prometheus_text(pod)
            return usage, first, second, cluster.metrics.pod_metric(pod, "requests_per_second")

    usage, first, second, rps = asyncio.run(scenario())

    # 400 requests/s over two endpoints at 2m each: 400m per pod on top of a small idle base.
    for per_container in usage:
        cpu, _ = per_container["server"]
        assert 400 <= cpu < 410
    assert rps == 200.0

    def total(text):
        [sample] = [
            s
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "inference_requests_total"
            and s.labels["model_name"] == "web"
            and s.labels["model_version"] == "v7"
        ]
        return sample.value

    assert total(second) > total(first)
    assert "# TYPE inference_request_duration_seconds histogram" in second


class _Api:
    def __init__(self):
        self.subscribers = []

    def subscribe(self, resource, callback):
        self.subscribers.append(callback)


class _Usage:
    def loads_for(self, pod):
        return [({"latencyMilliseconds": 40}, 10.0)]

    def pod_usage(self, pod, at):
        return {"server": (100.0, 2**20)}


def test_the_exporter_forgets_a_pod_when_it_is_deleted():
    api = _Api()
    exporter = PrometheusExporter(_Usage(), api)
    pod = {
        "metadata": {"name": "web-0", "namespace": "ml", "uid": "u1"},
        "spec": {"containers": [{"name": "server", "image": "model:v1"}]},
    }
    exporter.text(pod, at=100.0)
    assert "u1" in exporter._totals
    for callback in api.subscribers:
        callback("DELETED", pod, pod)
    assert exporter._totals == {}
