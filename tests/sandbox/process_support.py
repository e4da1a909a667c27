"""Helpers for the process runtime tests: a sandbox whose `*/standin` images run the stand-in
program (tests/sandbox/programs/standin.py) as local processes, and small pod helpers."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.testing import SandboxProcess, wait_for

STANDIN = "registry.example/tests/standin:1"
RUNTIME_MAP = {
    "rules": [
        {
            "image": "*/standin",
            "command": ["python", "tests/sandbox/programs/standin.py"],
            "hostEnv": "HOST",
            "portEnv": "PORT",
            "defaultPort": 8080,
        }
    ]
}


def process_sandbox(workdir: Path, *, config: dict | None = None) -> SandboxProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "runtime-map.json"
    path.write_text(json.dumps(RUNTIME_MAP))
    return SandboxProcess(
        workdir, nodes=1, gpu_nodes=0, config=config, extra_args=("--runtime-map", str(path))
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def standin_pod(name: str, *args: str, **spec) -> dict:
    container = {
        "name": "main",
        "image": STANDIN,
        "args": list(args),
        "ports": [{"containerPort": 8080, "name": "http"}],
    }
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": spec.pop("labels", {"app": name})},
        "spec": {"containers": [container], **spec},
    }


def get_pod(api: client.ApiClient, ns: str, name: str) -> dict | None:
    try:
        return api.sanitize_for_serialization(client.CoreV1Api(api).read_namespaced_pod(name, ns))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def container_status(api: client.ApiClient, ns: str, name: str) -> dict:
    pod = get_pod(api, ns, name) or {}
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    return statuses[0]


def logs(api: client.ApiClient, ns: str, name: str, *, previous: bool = False) -> str:
    try:
        return client.CoreV1Api(api).read_namespaced_pod_log(name, ns, previous=previous)
    except ApiException:
        return ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes: only its parent has not collected it yet
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def wait_running(api: client.ApiClient, ns: str, name: str, timeout: float = 30) -> dict:
    return wait_for(
        lambda: (
            "running" in (container_status(api, ns, name).get("state") or {})
            and get_pod(api, ns, name)
        ),
        f"pod {name} running",
        timeout=timeout,
    )


def pid_from_log(api: client.ApiClient, ns: str, name: str, what: str = "standin pid=") -> int:
    text = wait_for(lambda: what in logs(api, ns, name) and logs(api, ns, name), f"{what} logged")
    return int(text.split(what, 1)[1].split()[0])
