"""The local GKE's cluster autoscaler: a GPU pool autoscaled from zero gets a node when a GPU
Job is Pending, and goes back to zero once nothing runs on it."""

from __future__ import annotations

import pytest
from google.cloud import container_v1

from sandbox.gke.autoscaler import fits
from sandbox.gke.testing import GkeProcess
from sandbox.testing import wait_for
from tests.sandbox.gke_support import PARENT, cluster_kubectl, wait_done
from tests.sandbox.test_gke_clusters import GPU_JOB

pytestmark = pytest.mark.timeout(120)


def test_a_gpu_pool_scales_from_zero_for_a_pending_job_and_back(tmp_path):
    with GkeProcess(tmp_path / "gke", scale_down_seconds=1.0) as gke:
        client = gke.client()
        parent = f"{PARENT}/clusters/scaler"
        wait_done(
            client,
            client.create_cluster(
                parent=PARENT, cluster=container_v1.Cluster(name="scaler", initial_node_count=1)
            ),
        )
        accel = container_v1.AcceleratorConfig(
            accelerator_count=1, accelerator_type="nvidia-tesla-t4"
        )
        pool = container_v1.NodePool(
            name="t4",
            initial_node_count=0,
            config=container_v1.NodeConfig(machine_type="n1-standard-8", accelerators=[accel]),
            autoscaling=container_v1.NodePoolAutoscaling(
                enabled=True, min_node_count=0, max_node_count=2
            ),
        )
        wait_done(client, client.create_node_pool(parent=parent, node_pool=pool))
        cluster = client.get_cluster(name=parent)

        def gpu_nodes():
            return cluster_kubectl(
                gke, cluster, tmp_path, "get", "nodes", "-l", "cloud.google.com/gke-nodepool=t4"
            )["items"]

        assert gpu_nodes() == []
        cluster_kubectl(gke, cluster, tmp_path, "apply", "-f", "-", input=GPU_JOB, json_out=False)

        def job_done():
            job = cluster_kubectl(gke, cluster, tmp_path, "get", "job", "train")
            return job.get("status", {}).get("succeeded") == 1

        wait_for(job_done, "the GPU Job to run on a node the autoscaler added", timeout=60)
        wait_for(lambda: gpu_nodes() == [], "the idle GPU pool to go back to zero", timeout=60)


def test_a_pod_fits_a_node_only_with_the_toleration_selector_and_room():
    node = {
        "metadata": {"labels": {"cloud.google.com/gke-accelerator": "nvidia-l4"}},
        "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]},
        "status": {"allocatable": {"cpu": "7910m", "memory": "27Gi", "nvidia.com/gpu": "1"}},
    }
    container = {"name": "c", "image": "i", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
    tolerate = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    pod = {"spec": {"containers": [container], "tolerations": tolerate}}
    assert fits(pod, node)
    assert not fits({"spec": {"containers": [container]}}, node)
    two = {**container, "resources": {"limits": {"nvidia.com/gpu": "2"}}}
    assert not fits({"spec": {"containers": [two], "tolerations": tolerate}}, node)
    elsewhere = {
        **pod["spec"],
        "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"},
    }
    assert not fits({"spec": elsewhere}, node)
