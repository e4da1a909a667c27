"""Controllers and kubelet pick up where they left off when the sandbox restarts with --state."""

from __future__ import annotations

from kubernetes import client

from sandbox.testing import wait_for
from tests.sandbox.ctl_support import create_namespace, deployment_manifest, ok, write_manifest


def test_running_workloads_survive_a_restart_and_keep_reconciling(fresh_sandbox, tmp_path):
    api = fresh_sandbox.api()
    ns = create_namespace(api, "restart")
    ok(
        fresh_sandbox.kubectl(
            "apply",
            "-n",
            ns,
            "-f",
            str(write_manifest(tmp_path, deployment_manifest("web", replicas=2))),
        )
    )
    ok(
        fresh_sandbox.kubectl(
            "expose", "-n", ns, "deployment/web", "--port=80", "--type=LoadBalancer"
        )
    )
    ok(fresh_sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))
    core = client.CoreV1Api(api)
    lb = wait_for(
        lambda: core.read_namespaced_service("web", ns).status.load_balancer.ingress, "the LB IP"
    )
    before = {p.metadata.name: p.status.pod_ip for p in core.list_namespaced_pod(ns).items}

    fresh_sandbox.restart()
    api = fresh_sandbox.api()
    core = client.CoreV1Api(api)

    after = {p.metadata.name: p.status.pod_ip for p in core.list_namespaced_pod(ns).items}
    assert after == before
    assert core.read_namespaced_service("web", ns).status.load_balancer.ingress[0].ip == lb[0].ip
    ok(fresh_sandbox.kubectl("scale", "-n", ns, "deployment/web", "--replicas=3"))
    ok(fresh_sandbox.kubectl("rollout", "status", "-n", ns, "deployment/web", "--timeout=30s"))
    pods = core.list_namespaced_pod(ns).items
    assert len(pods) == 3
    assert len({p.status.pod_ip for p in pods}) == 3  # the restored IPs are not handed out again
    assert all(p.status.phase == "Running" for p in pods)
