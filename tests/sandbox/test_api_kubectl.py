"""kubectl (default flags, server-side validation) through a whole model-serving workflow:
create, scale, set image, rollout status/history/undo/pause/resume/restart, autoscale, wait,
logs, describe, top, delete."""

from __future__ import annotations

from sandbox.testing import wait_for


def run(sandbox, ns: str, *args: str, timeout: float = 60) -> str:
    result = sandbox.kubectl(*args, "-n", ns, timeout=timeout)
    assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def test_a_model_serving_workflow_runs_through_kubectl(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    run(
        sandbox,
        ns,
        "create",
        "deployment",
        "model",
        "--image=registry.example/model:v1",
        "--replicas=2",
        "--port=8080",
    )
    run(sandbox, ns, "rollout", "status", "deployment/model", "--timeout=60s")
    run(sandbox, ns, "scale", "deployment/model", "--replicas=3")
    run(sandbox, ns, "wait", "--for=condition=available", "deployment/model", "--timeout=60s")
    run(sandbox, ns, "set", "image", "deployment/model", "model=registry.example/model:v2")
    run(sandbox, ns, "rollout", "status", "deployment/model", "--timeout=60s")
    history = run(sandbox, ns, "rollout", "history", "deployment/model")
    assert "REVISION" in history
    assert len([line for line in history.splitlines() if line[:1].isdigit()]) == 2
    run(sandbox, ns, "rollout", "undo", "deployment/model")
    run(sandbox, ns, "rollout", "status", "deployment/model", "--timeout=60s")
    image = run(
        sandbox,
        ns,
        "get",
        "deployment/model",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    )
    assert image == "registry.example/model:v1"
    run(sandbox, ns, "rollout", "pause", "deployment/model")
    paused = run(sandbox, ns, "get", "deployment/model", "-o", "jsonpath={.spec.paused}")
    assert paused == "true"
    run(sandbox, ns, "rollout", "resume", "deployment/model")
    run(sandbox, ns, "rollout", "restart", "deployment/model")
    run(sandbox, ns, "rollout", "status", "deployment/model", "--timeout=60s")

    run(sandbox, ns, "autoscale", "deployment/model", "--min=2", "--max=5", "--cpu=50%")
    hpa = run(sandbox, ns, "get", "hpa", "model")
    assert hpa.splitlines()[0].split()[:3] == ["NAME", "REFERENCE", "TARGETS"]
    assert "Deployment/model" in hpa

    described = run(sandbox, ns, "describe", "deployment", "model")
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in described
    pods = run(sandbox, ns, "get", "pods", "-l", "app=model", "-o", "name").split()
    assert len(pods) == 3
    assert "Events:" in run(sandbox, ns, "describe", pods[0])
    wait_for(
        lambda: sandbox.kubectl("logs", "deployment/model", "-n", ns, "--tail=5").stdout.strip(),
        "log lines",
    )
    top = wait_for(lambda: sandbox.kubectl("top", "pods", "-n", ns).stdout, "pod metrics")
    assert top.splitlines()[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    nodes = run(sandbox, ns, "top", "nodes")
    assert nodes.splitlines()[0].split()[:3] == ["NAME", "CPU(cores)", "CPU(%)"]

    run(sandbox, ns, "delete", "deployment", "model")
    run(sandbox, ns, "wait", "--for=delete", "pod", "-l", "app=model", "--timeout=60s")
    assert run(sandbox, ns, "get", "replicasets", "-o", "name") == ""


def test_a_training_job_runs_through_kubectl(sandbox, sandbox_namespace):
    ns = sandbox_namespace
    manifest = """
apiVersion: batch/v1
kind: Job
metadata: {name: train}
spec:
  completions: 2
  parallelism: 2
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: trainer
        image: registry.example/trainer:1
        resources: {limits: {nvidia.com/gpu: 1}}
      tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
"""
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=manifest, check=True)
    run(sandbox, ns, "wait", "--for=condition=complete", "job/train", "--timeout=60s")
    jobs = run(sandbox, ns, "get", "jobs")
    assert jobs.splitlines()[1].split()[:3] == ["train", "Complete", "2/2"]
    assert "Completed" in run(sandbox, ns, "describe", "job", "train")
