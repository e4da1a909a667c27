"""Starting sandboxes for tests and benchmarks: as a subprocess on a free port (the normal way)
or in-process on the running event loop (unit-level tests)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_kubeconfig(path: Path) -> tuple[str, str, str]:
    """(server URL, token, CA PEM) of a sandbox kubeconfig."""
    data = yaml.safe_load(Path(path).read_text())
    cluster = data["clusters"][0]["cluster"]
    ca = base64.b64decode(cluster.get("certificate-authority-data", "")).decode()
    return cluster["server"], data["users"][0]["user"]["token"], ca


class SandboxProcess:
    """A sandbox running as `python -m sandbox` in a subprocess.

    Attributes: kubeconfig, readonly_kubeconfig, url, admin_token, readonly_token, ca_file (the
    server's CA, for plain HTTPS clients) and state (the --state file).
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        nodes: int = 3,
        gpu_nodes: int = 1,
        timings: str = "fast",
        state: bool = True,
        config: dict | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="sandbox-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self.workdir / "kubeconfig"
        self.readonly_kubeconfig = self.workdir / "kubeconfig-readonly"
        self.ca_file = self.workdir / "ca.crt"
        self.state = self.workdir / "state.json" if state else None
        self.log_file = self.workdir / "sandbox.log"
        self.nodes = nodes
        self.gpu_nodes = gpu_nodes
        self.timings = timings
        self.config_file: Path | None = None
        if config:
            self.config_file = self.workdir / "config.json"
            self.config_file.write_text(json.dumps(config))
        self.extra_args = extra_args
        self.port = free_port()
        self.url = ""
        self.admin_token = ""
        self.readonly_token = ""
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    # ---- lifecycle ----

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "sandbox",
            "--kubeconfig", str(self.kubeconfig),
            "--readonly-kubeconfig", str(self.readonly_kubeconfig),
            "--port", str(self.port),
            "--nodes", str(self.nodes),
            "--gpu-nodes", str(self.gpu_nodes),
            "--timings", self.timings,
        ]  # fmt: skip
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        if self.config_file is not None:
            cmd += ["--config", str(self.config_file)]
        return cmd + list(self.extra_args)

    def start(self) -> SandboxProcess:
        for path in (self.kubeconfig, self.readonly_kubeconfig):
            path.unlink(missing_ok=True)
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            self.command(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.kubeconfig.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the sandbox exited with {self.proc.returncode} before it was ready:\n"
                    + self.log_file.read_text()[-4000:]
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    "the sandbox did not become ready in time:\n"
                    + self.log_file.read_text()[-4000:]
                )
            time.sleep(0.05)
        self.url, self.admin_token, ca = read_kubeconfig(self.kubeconfig)
        _, self.readonly_token, _ = read_kubeconfig(self.readonly_kubeconfig)
        self.ca_file.write_text(ca)
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait; returns the exit code (kills it if it does not exit in time)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode

    def restart(self) -> SandboxProcess:
        """Stop and start again on the same port with the same state file."""
        self.stop()
        return self.start()

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- clients ----

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = False,
        timeout: float = 60,
        readonly: bool = False,
    ) -> subprocess.CompletedProcess:
        kc = self.readonly_kubeconfig if readonly else self.kubeconfig
        return subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(kc), *args], input=input, capture_output=True,
            text=True, timeout=timeout, check=check,
        )  # fmt: skip

    def api(self, *, readonly: bool = False):
        """A kubernetes.client.ApiClient for this sandbox (admin unless readonly)."""
        from kubernetes import config

        kc = self.readonly_kubeconfig if readonly else self.kubeconfig
        return config.new_client_from_config(config_file=str(kc))

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict | None = None,
        raw: bool = False,
    ) -> tuple[int, Any, dict]:
        """A plain HTTPS request: (status, parsed JSON body or bytes, headers)."""
        data = None
        hdrs = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        tok = self.admin_token if token is None else token
        if tok:
            hdrs["Authorization"] = f"Bearer {tok}"
        if not self.url.startswith("https://"):
            raise RuntimeError(f"the sandbox URL {self.url!r} is not https")
        req = urllib.request.Request(  # noqa: S310 - an https URL, checked above
            self.url + path, data=data, method=method, headers=hdrs
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - https only, checked above
                req, context=self.ssl_context(), timeout=30
            ) as resp:
                status, payload, rh = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            status, payload, rh = err.code, err.read(), dict(err.headers)
        if raw:
            return status, payload, rh
        try:
            return status, json.loads(payload) if payload else None, rh
        except ValueError:
            return status, payload, rh

    def script(self, path: str, body: Any = None, method: str = "POST") -> Any:
        """Call the /sandbox/v1/ scripting endpoint with the admin token."""
        status, payload, _ = self.request(method, f"/sandbox/v1/{path.lstrip('/')}", body)
        if status >= 400:
            raise RuntimeError(f"{method} /sandbox/v1/{path} failed with {status}: {payload}")
        return payload


@contextlib.asynccontextmanager
async def running_cluster(**options: Any) -> AsyncIterator[Any]:
    """An in-process Cluster serving on a free port of the running loop (fast timings)."""
    from sandbox.cluster import Cluster, ClusterOptions, load_config

    timings = options.pop("timings", "fast")
    cluster = Cluster(ClusterOptions(**options), load_config(timings))
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()


def wait_for(check: Any, what: str, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll check() until it returns something truthy, failing with `what` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


async def until(check: Any, what: str, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """wait_for() for tests that run a Cluster on their own loop: polls without blocking it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while loop.time() < deadline:
        last = check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
