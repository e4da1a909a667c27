"""Helpers of the local-GKE tests: follow an operation, reach a created cluster with kubectl."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

from sandbox import kubeconfig
from sandbox.gke.testing import GkeProcess
from sandbox.testing import KUBECTL, wait_for

PROJECT = "sandbox-project"
ZONE = "us-central1-a"
PARENT = f"projects/{PROJECT}/locations/{ZONE}"


def wait_done(client, op, timeout: float = 30.0):
    """The operation once DONE (the official client's get_operation, polled)."""
    name = f"{PARENT}/operations/{op.name}"

    def done():
        current = client.get_operation(name=name)
        return current if current.status == current.Status.DONE else None

    return wait_for(done, f"operation {op.name} to be DONE", timeout=timeout)


def cluster_kubectl(
    gke: GkeProcess, cluster, workdir: Path, *args: str, input: str | None = None, json_out=True
):
    """kubectl against a created cluster: its endpoint, its CA, a Google access token; the
    parsed `-o json` answer (or the plain output with json_out=False)."""
    path = workdir / f"kubeconfig-{cluster.name}"
    ca = base64.b64decode(cluster.master_auth.cluster_ca_certificate).decode()
    kubeconfig.write(path, f"https://{cluster.endpoint}", gke.access_token(), ca_pem=ca)
    done = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(path), *args, *(["-o", "json"] if json_out else [])],
        capture_output=True, text=True, timeout=60, check=True, input=input,
    )  # fmt: skip
    return json.loads(done.stdout) if json_out else done.stdout


def google_message(exc) -> str:
    """The message of Google's error body (the client prefixes it with method and URL)."""
    return exc.response.json()["error"]["message"]
