"""A node that stops posting status: unreachable taints, evictions, replacements, recovery."""

from __future__ import annotations

from kubernetes import client

from sandbox.testing import wait_for
from tests.sandbox.ctl_support import condition, create_namespace, events, script

UNREACHABLE = "node.kubernetes.io/unreachable"


def _deployment():
    return {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "app", "image": "nginx:1.25"}],
                    # Instead of the API server's default 300 s, so the test need not wait.
                    "tolerations": [
                        {
                            "key": UNREACHABLE,
                            "operator": "Exists",
                            "effect": "NoExecute",
                            "tolerationSeconds": 1,
                        }
                    ],
                },
            },
        },
    }


def test_pods_of_a_failed_node_are_evicted_and_replaced_and_the_node_recovers(fresh_sandbox):
    api = fresh_sandbox.api()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = create_namespace(api, "nodefail")
    apps.create_namespaced_deployment(ns, _deployment())
    wait_for(
        lambda: apps.read_namespaced_deployment("web", ns).status.available_replicas == 3, "3 pods"
    )
    victim_pod = core.list_namespaced_pod(ns).items[0]
    node = victim_pod.spec.node_name

    script(api, "POST", f"nodes/{node}/failure")

    def unreachable():
        n = core.read_node(node)
        taints = {(t.key, t.effect) for t in n.spec.taints or []}
        return (
            (UNREACHABLE, "NoExecute") in taints and condition(n, "Ready").status == "Unknown" and n
        )

    failed = wait_for(unreachable, "the node to be marked unreachable")
    assert condition(failed, "Ready").reason == "NodeStatusUnknown"
    assert (UNREACHABLE, "NoSchedule") in {(t.key, t.effect) for t in failed.spec.taints}

    def replaced():
        pods = core.list_namespaced_pod(ns).items
        healthy = [
            p
            for p in pods
            if not p.metadata.deletion_timestamp
            and p.spec.node_name != node
            and p.status.phase == "Running"
        ]
        return len(healthy) == 3 and pods

    pods = wait_for(replaced, "replacements on the other nodes")
    stuck = [p for p in pods if p.spec.node_name == node]
    assert stuck
    assert all(p.metadata.deletion_timestamp for p in stuck)  # Terminating: its kubelet is down
    assert events(api, ns, name=victim_pod.metadata.name, reason="TaintManagerEviction")

    script(api, "DELETE", f"nodes/{node}/failure")

    wait_for(
        lambda: condition(core.read_node(node), "Ready").status == "True", "the node to be Ready"
    )
    wait_for(
        lambda: (
            not [
                p
                for p in core.list_namespaced_pod(ns).items
                if p.spec.node_name == node and p.metadata.deletion_timestamp
            ]
        ),
        "the evicted pods to finish terminating",
    )
    assert not [t for t in core.read_node(node).spec.taints or [] if t.key == UNREACHABLE]
