"""`make run`'s orchestration, end to end: what a user sees on a first and a second start."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from sandbox.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"


class Stack:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.port = free_port()
        self.log = run_dir / f"make-run-{self.port}.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "DATABASE_TEST_NAME", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            RUN_DIR=str(run_dir),
            PORT=str(self.port),
            REDIS_PREFIX=f"makerun-{uuid.uuid4().hex[:8]}",
            SANDBOX_NODES="2",
            SANDBOX_GPU_NODES="0",
            # The real inference server under the sandbox is tested on its own
            # (tests/sandbox/test_process_runtime_inference.py); here it would only add a
            # TensorFlow export and a 1 GB server to every start.
            SANDBOX_PROCESS_RUNTIME="0",
        )
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "devstack", "run"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_serving(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                url = f"http://127.0.0.1:{self.port}/accounts/login/"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        pytest.fail(f"make run did not serve within {timeout} s:\n{self.output()}")

    def stop(self) -> int:
        # Ctrl-C reaches the whole process group, as in a terminal.
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise

    def pid_of(self, name: str) -> int:
        started = re.findall(rf"^ *{name} \| started \(pid (\d+)\)", self.output(), re.MULTILINE)
        assert started, f"{name} never started:\n{self.output()}"
        return int(started[-1])

    def kill(self, name: str) -> None:
        os.kill(self.pid_of(name), signal.SIGKILL)

    def wait_for_output(self, pattern: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.output(), re.MULTILINE):
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.output()}"
            time.sleep(0.3)

    def kubectl(self, *args: str) -> str:
        kubeconfig = self.run_dir / "sandbox.kubeconfig"
        return subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(kubeconfig), *args],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip


def _retry(call, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _wait_for_replicas(stack: Stack, replicas: int) -> dict:
    deadline = time.monotonic() + 60
    while True:
        deployment = json.loads(
            stack.kubectl("-n", "demo", "get", "deployment", "pet-segmenter", "-o", "json")
        )
        if deployment["status"].get("readyReplicas") == replicas or time.monotonic() > deadline:
            return deployment
        time.sleep(0.3)


@pytest.mark.slow
def test_make_run_starts_everything_and_a_second_run_keeps_what_the_user_did(tmp_path):
    first = Stack(tmp_path)
    try:
        first.wait_until_serving()
        output = first.output()
        assert f"open http://127.0.0.1:{first.port}/" in output
        assert "password:" in output
        assert (tmp_path / "sandbox.kubeconfig").is_file()
        assert _wait_for_replicas(first, 2)["status"]["readyReplicas"] == 2
        first.kubectl("-n", "demo", "scale", "deployment/pet-segmenter", "--replicas=3")
        assert _wait_for_replicas(first, 3)["status"]["readyReplicas"] == 3
        # A process that dies is started again, and the log says so; the stack stays up.
        for name in ("worker", "sandbox"):
            first.kill(name)
        first.wait_for_output(r"supervisor \| worker died \(signal 9\); restarting in 1 s")
        first.wait_for_output(r"supervisor \| sandbox died \(signal 9\); restarting in 1 s")
        first.wait_for_output(r"^ *worker \| started \(pid \d+\)(?:.|\n)*^ *worker \| started")
        assert first.process.poll() is None
        assert "pet-segmenter" in _retry(lambda: first.kubectl("-n", "demo", "get", "deploy"))
    finally:
        first.stop()
    for name in ("web", "worker", "beat", "watcher", "sandbox"):
        assert re.search(rf"^ *{name} \| stopped$", first.output(), re.MULTILINE), name

    second = Stack(tmp_path)
    try:
        second.wait_until_serving()
        output = second.output()
        assert "password:" not in output, "the admin password is shown once, on the first run"
        assert "local account 'admin' exists" in output
        deployment = _wait_for_replicas(second, 3)
        assert deployment["spec"]["replicas"] == 3, "a restart must not undo the user's scale"
    finally:
        second.stop()
