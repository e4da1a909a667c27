"""Shared by the pod log tests: sandbox pods whose containers log what a test scripts."""

from __future__ import annotations

import json
import uuid

from tests.fixtures.controlplane import wait_for


def script_logs(sandbox, namespace: str, *, pod: str = "*", container: str | None = None, **b):
    """A sandbox behaviour rule for containers in `namespace` (removed with the namespace's
    test by the caller through the returned id)."""
    match = {"namespace": namespace, "pod": pod}
    if container:
        match["container"] = container
    return sandbox.script("behaviors", {"match": match, **b})["id"]


def make_pod(sandbox, namespace: str, *, name: str | None = None, containers=("app",), init=()):
    name = name or f"p-{uuid.uuid4().hex[:6]}"
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "containers": [{"name": c, "image": "example/app:1"} for c in containers],
            "initContainers": [{"name": c, "image": "example/init:1"} for c in init],
        },
    }
    if not init:
        del manifest["spec"]["initContainers"]
    result = sandbox.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    assert result.returncode == 0, result.stderr
    return name


def kubectl_logs(sandbox, namespace: str, pod: str, *args: str) -> str:
    result = sandbox.kubectl("logs", "-n", namespace, pod, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_for_log(sandbox, namespace: str, pod: str, container: str, text: str) -> str:
    def seen():
        result = sandbox.kubectl("logs", "-n", namespace, pod, "-c", container)
        return result.returncode == 0 and text in result.stdout and result.stdout

    return wait_for(seen, timeout=30, what=f"{text!r} in the log of {pod}/{container}")
