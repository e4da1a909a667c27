"""Resources served without storage: metrics.k8s.io (503 without the usage model, Tables for
kubectl get) and the API server running alone with --no-controllers."""

from __future__ import annotations

from sandbox.testing import SandboxProcess, wait_for


def test_metrics_are_unavailable_without_the_usage_model(tmp_path):
    proc = SandboxProcess(tmp_path / "sb", nodes=0, gpu_nodes=0, extra_args=("--no-controllers",))
    proc.start()
    try:
        status, body, _ = proc.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
        assert status == 503
        assert body["reason"] == "ServiceUnavailable"
        assert "metrics" in body["message"]
        top = proc.kubectl("top", "nodes")
        assert top.returncode != 0
        # the API itself works without controllers: a deployment is stored, nothing runs it
        proc.kubectl("create", "deployment", "idle", "--image=nginx:1.25", check=True)
        assert proc.kubectl("get", "pods", "-o", "name", check=True).stdout == ""
        assert proc.request("GET", "/sandbox/v1/script")[0] == 404
    finally:
        assert proc.stop() == 0


def test_kubectl_gets_pod_metrics_as_a_table(sandbox, sandbox_namespace):
    sandbox.kubectl(
        "create", "deployment", "m", "--image=nginx:1.25", "-n", sandbox_namespace, check=True
    )
    out = wait_for(
        lambda: sandbox.kubectl("get", "pods.metrics.k8s.io", "-n", sandbox_namespace).stdout,
        "pod metrics",
    )
    assert out.splitlines()[0].split() == ["NAME", "CPU", "MEMORY", "WINDOW"]
    assert out.splitlines()[1].startswith("m-")


def test_endpoint_slices_mirror_endpoints_for_kubectl_describe(sandbox, sandbox_namespace):
    from kubernetes import client

    ns = ["-n", sandbox_namespace]
    sandbox.kubectl(
        "create", "deployment", "es", "--image=nginx:1.25", "--replicas=2", *ns, check=True
    )
    sandbox.kubectl(
        "expose", "deployment", "es", "--port=80", "--target-port=8080", *ns, check=True
    )
    disco = client.DiscoveryV1Api(sandbox.api())

    def two_ready():
        slices = disco.list_namespaced_endpoint_slice(
            sandbox_namespace, label_selector="kubernetes.io/service-name=es"
        ).items
        ready = [e for s in slices for e in s.endpoints or [] if e.conditions.ready]
        return len(ready) == 2 and slices

    slices = wait_for(two_ready, "two ready endpoints")
    assert slices[0].ports[0].port == 8080
    described = sandbox.kubectl("describe", "service", "es", *ns, check=True).stdout
    endpoints = next(line for line in described.splitlines() if line.startswith("Endpoints:"))
    assert endpoints.count(":8080") == 2
