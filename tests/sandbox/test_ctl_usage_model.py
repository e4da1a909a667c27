"""The usage model in-process: load spreads over ready endpoints, counters only grow."""

from __future__ import annotations

import asyncio
import re

from sandbox.testing import running_cluster


async def _until(check, what, timeout=20.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


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
            await _until(lambda: _ready_endpoints(cluster.api) == 2, "two ready endpoints")
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
        match = re.search(
            r'inference_requests_total\{model_name="web",model_version="v7",[^}]*\} (\d+)', text
        )
        return int(match.group(1))

    assert total(second) > total(first)
    assert "# TYPE inference_request_duration_seconds histogram" in second
