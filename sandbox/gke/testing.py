"""The local GKE endpoint as a subprocess, for tests and demos: `GkeProcess`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

# sandbox.testing is a sibling in the sandbox's top layer, so its helpers are not imported.
ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GkeProcess:
    """`python -m sandbox.gke` on a free port; `.key` is the service-account key it wrote
    (`.key_file` its path) and `.url` where it serves."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        operation_seconds: float = 0.3,
        token_seconds: float = 3600.0,
        project: str = "sandbox-project",
        scale_down_seconds: float = 600.0,
    ) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="gke-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.key_file = self.workdir / "key.json"
        self.state = self.workdir / "gke-state.json"
        self.log_file = self.workdir / "gke.log"
        self.operation_seconds = operation_seconds
        self.token_seconds = token_seconds
        self.project = project
        self.scale_down_seconds = scale_down_seconds
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key: dict = {}
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "sandbox.gke",
            "--port", str(self.port),
            "--state", str(self.state),
            "--operation-seconds", str(self.operation_seconds),
            "--token-seconds", str(self.token_seconds),
            "--timings", "fast",
            "--project", self.project,
            "--autoscaler-seconds", "0.3",
            "--scale-down-seconds", str(self.scale_down_seconds),
            "--make-key", str(self.key_file),
        ]  # fmt: skip

    def start(self) -> GkeProcess:
        self.key_file.unlink(missing_ok=True)
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            self.command(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.key_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    "the GKE endpoint did not start:\n" + self.log_file.read_text()[-4000:]
                )
            time.sleep(0.05)
        self.key = json.loads(self.key_file.read_text())
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def __enter__(self) -> GkeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- plain HTTP, as any client ----

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        form: dict | None = None,
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if form is not None:
            data = "&".join(
                f"{k}={urllib.request.quote(str(v), safe='')}" for k, v in form.items()
            ).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"not the local endpoint: {self.url}")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)  # noqa: S310 - loopback, checked above
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback, checked above
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, payload = err.code, err.read()
        return status, json.loads(payload) if payload else None

    def access_token(self, key: dict | None = None) -> str:
        """An access token through google-auth's JWT-bearer grant, as the control plane gets it."""
        from google.auth.transport.requests import Request
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_info(
            key or self.key, scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        creds.refresh(Request())
        return creds.token

    def make_key(self) -> dict:
        status, key = self.request(
            "POST", "/sandbox/v1/keys", {"project_id": self.project}, token=self.access_token()
        )
        if status != 201:
            raise RuntimeError(f"making a key failed with {status}: {key}")
        return key

    def revoke_key(self, key_id: str) -> None:
        status, body = self.request(
            "DELETE", f"/sandbox/v1/keys/{key_id}", token=self.access_token()
        )
        if status != 200:
            raise RuntimeError(f"revoking {key_id} failed with {status}: {body}")

    def client(self, key: dict | None = None):
        """The official ClusterManagerClient (REST transport) with this endpoint's key."""
        from google.api_core.client_options import ClientOptions
        from google.cloud import container_v1
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_info(
            key or self.key, scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        return container_v1.ClusterManagerClient(
            credentials=creds, transport="rest", client_options=ClientOptions(api_endpoint=self.url)
        )
