"""`GKE_LOCAL=1 make run` adds the local GKE endpoint: its command serves and writes a key
whose token_uri points at it, and the control plane's default endpoint becomes it."""

import json
import subprocess
import time

from devstack.gke import gke_program
from sandbox.testing import free_port


def test_without_gke_local_nothing_is_added(tmp_path):
    env = {}
    assert gke_program(tmp_path, env) is None
    assert "GKE_DEFAULT_ENDPOINT" not in env


def test_with_gke_local_the_endpoint_runs_and_becomes_the_default(tmp_path):
    port = str(free_port())
    env = {"GKE_LOCAL": "1", "GKE_PORT": port}
    (tmp_path / "logs").mkdir()
    program = gke_program(tmp_path, env)
    assert env["GKE_DEFAULT_ENDPOINT"] == f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        program.command, cwd=program.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        key_file = tmp_path / "gke-key.json"
        deadline = time.monotonic() + 60
        while not key_file.exists():
            assert process.poll() is None, "the local GKE endpoint exited"
            assert time.monotonic() < deadline, "no key written within 60 s"
            time.sleep(0.05)
        key = json.loads(key_file.read_text())
        assert key["token_uri"] == f"http://127.0.0.1:{port}/token"
        assert key["type"] == "service_account"
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
    assert (tmp_path / "gke-state.json").exists()
