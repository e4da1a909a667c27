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
