"""Scheduler against the real sandbox: resources, GPUs, taints, selectors."""

from __future__ import annotations

from kubernetes import client

from sandbox.controllers.nodes import build_node
from sandbox.testing import wait_for
from tests.sandbox.ctl_support import condition, create_namespace, events

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def _pod(name, *, gpus=0, cpu="100m", **spec):
    resources = {"requests": {"cpu": cpu, "memory": "64Mi"}}
    if gpus:
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    return {
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "train", "image": "pytorch/pytorch:2.4", "resources": resources}
            ],
            **spec,
        },
    }


def _create(api, ns, pod):
    return client.CoreV1Api(api).create_namespaced_pod(ns, pod)


def _read(api, ns, name):
    return client.CoreV1Api(api).read_namespaced_pod(name, ns)


def _unschedulable(api, ns, name):
    pod = _read(api, ns, name)
    cond = condition(pod, "PodScheduled")
    return cond is not None and cond.status == "False" and cond


NAMESPACE_PREFIX = "sched"


def test_it_places_a_gpu_pod_that_tolerates_the_gpu_taint_on_the_gpu_node(api, ns):
    _create(
        api,
        ns,
        _pod(
            "trainer",
            gpus=1,
            tolerations=[GPU_TOLERATION],
            nodeSelector={"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"},
        ),
    )

    pod = wait_for(
        lambda: (lambda p: p.status.phase == "Running" and p)(_read(api, ns, "trainer")),
        "the pod to run",
    )

    node = client.CoreV1Api(api).read_node(pod.spec.node_name)
    assert node.metadata.labels["cloud.google.com/gke-nodepool"] == "gpu-pool"
    assert node.status.allocatable["nvidia.com/gpu"] == "1"
    assert condition(pod, "PodScheduled").status == "True"
    (scheduled,) = events(api, ns, name="trainer", reason="Scheduled")
    assert scheduled.message == f"Successfully assigned {ns}/trainer to {pod.spec.node_name}"


def test_a_gpu_pod_without_the_toleration_stays_pending_and_says_why(api, ns):
    _create(api, ns, _pod("trainer", gpus=1))

    cond = wait_for(lambda: _unschedulable(api, ns, "trainer"), "PodScheduled=False")

    assert cond.reason == "Unschedulable"
    assert cond.message.startswith("0/4 nodes are available: ")
    assert "1 node(s) had untolerated taint {nvidia.com/gpu: present}" in cond.message
    assert "3 Insufficient nvidia.com/gpu" in cond.message
    assert _read(api, ns, "trainer").status.phase == "Pending"
    (event,) = events(api, ns, name="trainer", reason="FailedScheduling")
    assert event.type == "Warning"
    assert event.message == cond.message


def test_a_pod_that_no_node_can_fit_is_reported_with_the_missing_resource(api, ns):
    _create(api, ns, _pod("huge", cpu="64"))
    _create(api, ns, _pod("picky", nodeSelector={"cloud.google.com/gke-nodepool": "tpu-pool"}))

    huge = wait_for(lambda: _unschedulable(api, ns, "huge"), "huge to be unschedulable")
    picky = wait_for(lambda: _unschedulable(api, ns, "picky"), "picky to be unschedulable")

    assert "3 Insufficient cpu" in huge.message
    assert "3 node(s) didn't match Pod's node affinity/selector" in picky.message


def test_gpu_pods_wait_without_gpu_nodes_and_are_scheduled_once_a_gpu_node_joins(fresh_sandbox):
    api = fresh_sandbox.api()
    core = client.CoreV1Api(api)
    for node in core.list_node().items:
        if node.metadata.labels.get("cloud.google.com/gke-accelerator"):
            core.delete_node(node.metadata.name)
    ns = create_namespace(api, "gpu")
    _create(api, ns, _pod("trainer", gpus=1, tolerations=[GPU_TOLERATION]))

    cond = wait_for(lambda: _unschedulable(api, ns, "trainer"), "the GPU pod to be unschedulable")
    assert cond.message.startswith("0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")

    core.create_node(build_node("gpu-pool", 7, 40))

    pod = wait_for(
        lambda: (lambda p: p.spec.node_name and p)(_read(api, ns, "trainer")), "the pod to be bound"
    )
    assert pod.spec.node_name == build_node("gpu-pool", 7, 40)["metadata"]["name"]
    wait_for(lambda: _read(api, ns, "trainer").status.phase == "Running", "the pod to run")


def test_pods_of_a_deleted_node_are_replaced_on_the_remaining_nodes(fresh_sandbox):
    api = fresh_sandbox.api()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = create_namespace(api, "drain")
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
                },
            },
        },
    )
    wait_for(
        lambda: apps.read_namespaced_deployment("web", ns).status.available_replicas == 3, "3 pods"
    )
    victim = core.list_namespaced_pod(ns).items[0].spec.node_name

    core.delete_node(victim)

    def replaced():
        pods = core.list_namespaced_pod(ns).items
        running = [p for p in pods if p.status.phase == "Running" and p.spec.node_name != victim]
        return len(pods) == 3 and len(running) == 3

    wait_for(replaced, "three pods running on the remaining nodes")


def test_replicas_of_one_deployment_spread_over_the_nodes(api, ns):
    client.AppsV1Api(api).create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
                },
            },
        },
    )

    pods = wait_for(
        lambda: (lambda ps: len(ps) == 3 and all(p.spec.node_name for p in ps) and ps)(
            client.CoreV1Api(api).list_namespaced_pod(ns).items
        ),
        "three scheduled pods",
    )

    assert len({p.spec.node_name for p in pods}) == 3  # three CPU nodes, one pod each
