"""The local GKE endpoint through the official google-cloud-container client (REST transport)
and google-auth, unmodified: clusters, node pools, operations and Google's errors."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud import container_v1

from sandbox.gke.testing import GkeProcess
from sandbox.testing import wait_for
from tests.sandbox.gke_support import PARENT, PROJECT, cluster_kubectl, google_message, wait_done

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def gke(tmp_path_factory):
    with GkeProcess(tmp_path_factory.mktemp("gke")) as proc:
        yield proc


@pytest.fixture(scope="module")
def client(gke):
    return gke.client()


@pytest.fixture(scope="module")
def demo(gke, client):
    """One cluster for the module: two nodes in us-central1-a, REGULAR channel."""
    op = client.create_cluster(
        parent=PARENT,
        cluster=container_v1.Cluster(
            name="demo",
            initial_node_count=2,
            release_channel=container_v1.ReleaseChannel(
                channel=container_v1.ReleaseChannel.Channel.REGULAR
            ),
            workload_identity_config=container_v1.WorkloadIdentityConfig(
                workload_pool=f"{PROJECT}.svc.id.goog"
            ),
        ),
    )
    assert op.status == container_v1.Operation.Status.PENDING
    assert op.operation_type == container_v1.Operation.Type.CREATE_CLUSTER
    done = wait_done(client, op)
    assert not done.error.message
    return client.get_cluster(name=f"{PARENT}/clusters/demo")


def test_a_created_cluster_runs_with_an_endpoint_and_ca(demo):
    assert demo.status == container_v1.Cluster.Status.RUNNING
    assert demo.endpoint.startswith("127.0.0.1:")
    assert demo.master_auth.cluster_ca_certificate
    assert demo.release_channel.channel == container_v1.ReleaseChannel.Channel.REGULAR
    assert demo.workload_identity_config.workload_pool == f"{PROJECT}.svc.id.goog"
    assert [p.name for p in demo.node_pools] == ["default-pool"]


def test_its_nodes_follow_the_default_pool(gke, demo, tmp_path):
    nodes = cluster_kubectl(gke, demo, tmp_path, "get", "nodes")["items"]
    assert len(nodes) == 2
    labels = nodes[0]["metadata"]["labels"]
    assert labels["cloud.google.com/gke-nodepool"] == "default-pool"
    assert labels["node.kubernetes.io/instance-type"] == "e2-medium"
    assert labels["topology.kubernetes.io/zone"] == "us-central1-a"


def test_listing_shows_the_cluster_and_its_operation(client, demo):
    names = [c.name for c in client.list_clusters(parent=PARENT).clusters]
    assert "demo" in names
    ops = client.list_operations(parent=PARENT).operations
    assert any(o.operation_type == o.Type.CREATE_CLUSTER for o in ops)


def test_a_gpu_pool_adds_tainted_labelled_gpu_nodes_then_resizes(gke, client, demo, tmp_path):
    accel = container_v1.AcceleratorConfig(
        accelerator_count=1,
        accelerator_type="nvidia-l4",
        gpu_driver_installation_config=container_v1.GPUDriverInstallationConfig(
            gpu_driver_version=container_v1.GPUDriverInstallationConfig.GPUDriverVersion.LATEST
        ),
    )
    pool = container_v1.NodePool(
        name="gpu",
        initial_node_count=1,
        config=container_v1.NodeConfig(machine_type="g2-standard-8", accelerators=[accel]),
    )
    op = client.create_node_pool(parent=f"{PARENT}/clusters/demo", node_pool=pool)
    assert op.operation_type == container_v1.Operation.Type.CREATE_NODE_POOL
    assert not wait_done(client, op).error.message
    gpu_nodes = cluster_kubectl(
        gke, demo, tmp_path, "get", "nodes", "-l", "cloud.google.com/gke-nodepool=gpu"
    )["items"]
    assert len(gpu_nodes) == 1
    node = gpu_nodes[0]
    assert node["metadata"]["labels"]["cloud.google.com/gke-accelerator"] == "nvidia-l4"
    assert node["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"

    name = f"{PARENT}/clusters/demo/nodePools/gpu"
    op = client.set_node_pool_size(request={"name": name, "node_count": 3})
    assert not wait_done(client, op).error.message
    nodes = cluster_kubectl(
        gke, demo, tmp_path, "get", "nodes", "-l", "cloud.google.com/gke-nodepool=gpu"
    )["items"]
    assert len(nodes) == 3

    autoscaling = container_v1.NodePoolAutoscaling(enabled=True, min_node_count=0, max_node_count=2)
    op = client.set_node_pool_autoscaling(request={"name": name, "autoscaling": autoscaling})
    assert not wait_done(client, op).error.message
    got = client.get_node_pool(name=name)
    assert got.autoscaling.enabled
    assert got.autoscaling.max_node_count == 2
    nodes = cluster_kubectl(
        gke, demo, tmp_path, "get", "nodes", "-l", "cloud.google.com/gke-nodepool=gpu"
    )["items"]
    assert len(nodes) == 2

    op = client.delete_node_pool(name=name)
    assert not wait_done(client, op).error.message
    assert [
        p.name for p in client.list_node_pools(parent=f"{PARENT}/clusters/demo").node_pools
    ] == ["default-pool"]


def test_a_duplicate_name_is_already_exists_with_googles_message(client, demo):
    with pytest.raises(exceptions.Conflict) as err:
        client.create_cluster(
            parent=PARENT, cluster=container_v1.Cluster(name="demo", initial_node_count=1)
        )
    assert google_message(err.value) == f"Already exists: {PARENT}/clusters/demo."


def test_an_unknown_zone_is_not_found(client):
    with pytest.raises(exceptions.NotFound) as err:
        client.create_cluster(
            parent=f"projects/{PROJECT}/locations/us-central1-z",
            cluster=container_v1.Cluster(name="x", initial_node_count=1),
        )
    assert google_message(err.value) == 'Location "us-central1-z" does not exist.'


def test_a_zero_node_count_is_invalid_argument(client):
    with pytest.raises(exceptions.BadRequest) as err:
        client.create_cluster(
            parent=PARENT, cluster=container_v1.Cluster(name="x", initial_node_count=0)
        )
    assert google_message(err.value) == "Cluster.initial_node_count must be greater than zero."


def test_a_negative_pool_size_is_invalid_argument(client, demo):
    with pytest.raises(exceptions.BadRequest) as err:
        client.set_node_pool_size(
            request={"name": f"{PARENT}/clusters/demo/nodePools/default-pool", "node_count": -1}
        )
    assert "Must be greater than or equal to zero" in google_message(err.value)


def test_a_second_mutation_during_an_operation_is_failed_precondition(client, demo):
    name = f"{PARENT}/clusters/demo/nodePools/default-pool"
    op = client.set_node_pool_size(request={"name": name, "node_count": 2})
    with pytest.raises(exceptions.BadRequest) as err:
        client.set_node_pool_size(request={"name": name, "node_count": 1})
    assert google_message(err.value) == f"Cluster is running incompatible operation {op.name}."
    wait_done(client, op)


def test_deleting_a_cluster_stops_its_sandbox(gke, client, tmp_path):
    op = client.create_cluster(
        parent=PARENT, cluster=container_v1.Cluster(name="short", initial_node_count=1)
    )
    wait_done(client, op)
    cluster = client.get_cluster(name=f"{PARENT}/clusters/short")
    assert cluster_kubectl(gke, cluster, tmp_path, "get", "nodes")["items"]
    op = client.delete_cluster(name=f"{PARENT}/clusters/short")
    assert op.operation_type == container_v1.Operation.Type.DELETE_CLUSTER
    wait_done(client, op)
    with pytest.raises(exceptions.NotFound) as err:
        client.get_cluster(name=f"{PARENT}/clusters/short")
    assert google_message(err.value) == f"Not found: {PARENT}/clusters/short."
    with pytest.raises(Exception):  # noqa: B017 - the port is closed: any connection error
        cluster_kubectl(gke, cluster, tmp_path, "get", "nodes", "--request-timeout=3s")


GPU_JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: train}
spec:
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {cloud.google.com/gke-accelerator: nvidia-tesla-t4}
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      containers:
      - name: train
        image: trainer:1
        resources: {limits: {nvidia.com/gpu: "1"}}
"""


def test_a_pending_gpu_job_schedules_once_a_gpu_pool_exists(gke, client, tmp_path):
    op = client.create_cluster(
        parent=PARENT, cluster=container_v1.Cluster(name="trainjob", initial_node_count=1)
    )
    wait_done(client, op)
    cluster = client.get_cluster(name=f"{PARENT}/clusters/trainjob")
    cluster_kubectl(gke, cluster, tmp_path, "apply", "-f", "-", input=GPU_JOB, json_out=False)

    def pod():
        pods = cluster_kubectl(gke, cluster, tmp_path, "get", "pods", "-l", "job-name=train")
        return pods["items"][0] if pods["items"] else None

    pending = wait_for(pod, "the Job's pod")
    assert pending["status"]["phase"] == "Pending"
    assert not pending["spec"].get("nodeName")

    accel = container_v1.AcceleratorConfig(accelerator_count=1, accelerator_type="nvidia-tesla-t4")
    pool = container_v1.NodePool(
        name="t4", initial_node_count=1, config=container_v1.NodeConfig(accelerators=[accel])
    )
    wait_done(client, client.create_node_pool(parent=f"{PARENT}/clusters/trainjob", node_pool=pool))
    scheduled = wait_for(
        lambda: (p := pod()) and p["spec"].get("nodeName") and p, "the pod to be scheduled"
    )
    assert scheduled["spec"]["nodeName"].startswith("gke-trainjob-t4-")
