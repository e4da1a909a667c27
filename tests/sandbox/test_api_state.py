"""--state persistence across restarts, and a clean exit on SIGTERM."""

from __future__ import annotations

import json

from kubernetes import client

from sandbox.testing import SandboxProcess


def test_objects_survive_a_restart_with_state(tmp_path):
    proc = SandboxProcess(tmp_path / "sb", nodes=1, gpu_nodes=0)
    proc.start()
    try:
        proc.kubectl("create", "namespace", "keep", check=True)
        proc.kubectl("create", "configmap", "kept", "-n", "keep", "--from-literal=a=b", check=True)
        before = proc.kubectl(
            "get", "configmap", "kept", "-n", "keep", "-o", "json", check=True
        ).stdout
        token = proc.admin_token
        assert proc.stop() == 0
        assert proc.state is not None
        assert proc.state.exists()
        proc.start()
        assert proc.admin_token == token  # the old kubeconfig stays valid
        after = proc.kubectl(
            "get", "configmap", "kept", "-n", "keep", "-o", "json", check=True
        ).stdout
        assert json.loads(after)["metadata"] == json.loads(before)["metadata"]
        api = proc.api()
        created = client.CoreV1Api(api).create_namespaced_config_map(
            "keep", {"metadata": {"name": "newer"}}
        )
        api.close()
        old_rv = int(json.loads(before)["metadata"]["resourceVersion"])
        assert int(created.metadata.resource_version) > old_rv
        status, payload, _ = proc.request(
            "GET",
            f"/api/v1/namespaces/keep/configmaps?watch=true&resourceVersion={old_rv}",
            raw=True,
        )
        assert status == 200
        assert json.loads(payload.splitlines()[0])["object"]["code"] == 410
    finally:
        proc.stop()


def test_sigterm_exits_cleanly_and_flushes_state(tmp_path):
    proc = SandboxProcess(tmp_path / "sb", nodes=1, gpu_nodes=0)
    proc.start()
    proc.kubectl("create", "configmap", "last-write", "--from-literal=x=y", check=True)
    assert proc.stop() == 0
    state = json.loads(proc.state.read_text())
    names = [o["metadata"]["name"] for o in state["objects"]["configmaps"]]
    assert "last-write" in names


def test_without_state_a_sandbox_starts_with_nodes_and_system_namespaces(tmp_path):
    proc = SandboxProcess(tmp_path / "sb", nodes=2, gpu_nodes=1, state=False)
    proc.start()
    try:
        out = proc.kubectl("get", "namespaces", "-o", "name", check=True).stdout.split()
        assert "namespace/default" in out
        assert "namespace/kube-system" in out
        nodes = proc.kubectl("get", "nodes", "-o", "name", check=True).stdout.split()
        assert len(nodes) == 3
    finally:
        assert proc.stop() == 0


def test_stopping_ends_open_watches_cleanly(tmp_path):
    import threading

    proc = SandboxProcess(tmp_path / "sb", nodes=1, gpu_nodes=0)
    proc.start()
    api = proc.api()
    outcome: list[str] = []
    watching = threading.Event()

    def watch_until_the_server_ends_it() -> None:
        from kubernetes import watch

        try:
            # with a timeout the client does not reconnect when the server ends the stream
            for _ in watch.Watch().stream(
                client.CoreV1Api(api).list_namespaced_config_map, "default", timeout_seconds=60
            ):
                watching.set()
            outcome.append("ended")
        except Exception as exc:  # the assertion below reports what went wrong
            outcome.append(f"failed: {exc!r}")

    proc.kubectl("create", "configmap", "seen", check=True)
    t = threading.Thread(target=watch_until_the_server_ends_it)
    t.start()
    try:
        assert watching.wait(15)
        assert proc.stop() == 0
        t.join(15)
        assert outcome == ["ended"]
    finally:
        api.close()
        proc.stop()
