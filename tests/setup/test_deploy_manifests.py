"""deploy/ applies to a cluster as it is, with kubectl's default (server-side strict) validation."""

import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _wait_for_waiting_reason(sandbox, reason: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    reasons: set[str] = set()
    while time.monotonic() < deadline:
        pods = json.loads(
            sandbox.kubectl(
                "-n", "mlcp", "get", "pods", "-l", "app.kubernetes.io/component=web",
                "-o", "json", check=True,
            ).stdout
        )  # fmt: skip
        reasons = {
            (status.get("state", {}).get("waiting") or {}).get("reason", "")
            for pod in pods["items"]
            for status in pod["status"].get("containerStatuses", [])
        }
        if reasons == {reason}:
            return
        time.sleep(0.2)
    raise AssertionError(f"web pods never waited with {reason}; saw {reasons}")


def test_the_in_cluster_manifests_apply_and_their_processes_roll_out(sandbox):
    applied = sandbox.kubectl("apply", "-f", str(ROOT / "deploy"))
    assert applied.returncode == 0, applied.stderr
    assert "clusterrole.rbac.authorization.k8s.io/mlcp-controlplane" in applied.stdout

    # Until the operator creates the Secret (deploy/20-config.yaml says how), no process starts.
    _wait_for_waiting_reason(sandbox, "CreateContainerConfigError")
    created = sandbox.kubectl(
        "-n", "mlcp", "create", "secret", "generic", "mlcp-secrets",
        "--from-literal=SECRET_KEY=test-only", "--from-literal=CREDENTIALS_KEY=test-only",
        "--from-literal=DATABASE_URL=postgres://test-only",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr

    for process in ("web", "worker", "beat", "watcher"):
        rollout = sandbox.kubectl(
            "-n", "mlcp", "rollout", "status", f"deployment/mlcp-{process}", "--timeout=60s"
        )
        assert rollout.returncode == 0, rollout.stderr

    pods = json.loads(
        sandbox.kubectl(
            "-n", "mlcp", "get", "pods", "-l", "app.kubernetes.io/part-of=ml-controlplane",
            "-o", "json", check=True,
        ).stdout
    )  # fmt: skip
    accounts = {
        pod["metadata"]["labels"]["app.kubernetes.io/component"]: pod["spec"]["serviceAccountName"]
        for pod in pods["items"]
        if pod["metadata"]["labels"]["app.kubernetes.io/component"] != "redis"
    }
    assert set(accounts) == {"web", "worker", "beat", "watcher"}
    assert set(accounts.values()) == {"controlplane"}


def test_reapplying_the_manifests_changes_nothing(sandbox):
    sandbox.kubectl("apply", "-f", str(ROOT / "deploy"), check=True)
    again = sandbox.kubectl("apply", "-f", str(ROOT / "deploy"), check=True)
    lines = [line for line in again.stdout.splitlines() if line.strip()]
    assert lines
    assert all(line.endswith("unchanged") for line in lines), again.stdout
