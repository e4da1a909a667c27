"""Helpers of the metrics tests: a clean store, and a deployment with scripted usage sampled."""

import time

from controlplane.kube.metrics import pod_metrics_list
from deployments.metrics.sampling import metrics_sample, store_for
from tests.fixtures.controlplane import make_deployment, wait_for


def clear_metrics(cluster_name: str) -> None:
    store = store_for(cluster_name)
    keys = list(store.client.scan_iter(match=f"{store.base}:*", count=1000))
    if keys:
        store.client.unlink(*keys)


def sample_deployment(sandbox, cluster, namespace, tmp_path, *, cpu="300m", memory="64Mi"):
    """A two-pod deployment "model" with scripted usage, sampled 30 s and 15 s ago."""
    clear_metrics(cluster.name)
    make_deployment(sandbox, namespace, tmp_path, name="model", replicas=2)
    sandbox.script("usage", {"match": {"namespace": namespace}, "cpu": cpu, "memory": memory})

    def pods():
        items = pod_metrics_list(cluster.connection())
        return sorted(
            m["metadata"]["name"] for m in items if m["metadata"]["namespace"] == namespace
        )

    names = wait_for(lambda: len(pods()) == 2 and pods(), what="two pods with metrics")
    now = time.time()
    for ago in (30, 15):
        assert metrics_sample(cluster=cluster, now=now - ago).status == "ok"
    return names
