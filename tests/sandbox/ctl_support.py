"""Helpers for the controller tests (tests/sandbox/test_ctl_*.py): namespaces, polling, scripting.

Tests poll with deadlines instead of sleeping, and never assert on how long anything took.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_namespace(api: client.ApiClient, prefix: str = "ctl") -> str:
    name = unique(prefix)
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    return name


def delete_namespace(api: client.ApiClient, name: str) -> None:
    try:
        client.CoreV1Api(api).delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def script(api: client.ApiClient, method: str, path: str, body: Any = None) -> Any:
    """Call the sandbox's /sandbox/v1 scripting endpoint with the client's credentials."""
    config = api.configuration
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    for auth in config.auth_settings().values():
        if auth.get("in") == "header" and auth.get("value"):
            headers[auth["key"]] = auth["value"]
    response = api.call_api(
        method,
        f"{config.host}/sandbox/v1/{path.lstrip('/')}",
        header_params=headers,
        body=body,
    )
    response.read()
    text = response.data.decode() if isinstance(response.data, bytes) else response.data
    if response.status >= 400:
        raise ApiException(status=response.status, reason=response.reason, http_resp=response)
    return json.loads(text or "null")


def script_error(
    api: client.ApiClient, method: str, path: str, body: Any = None
) -> tuple[int, dict]:
    try:
        script(api, method, path, body)
    except ApiException as exc:
        return exc.status, json.loads(exc.body or "{}")
    raise AssertionError(f"{method} /sandbox/v1/{path} unexpectedly succeeded")


def events(
    api: client.ApiClient, ns: str, *, name: str | None = None, reason: str | None = None
) -> list:
    items = client.CoreV1Api(api).list_namespaced_event(ns).items
    return [
        e
        for e in items
        if (name is None or e.involved_object.name == name)
        and (reason is None or e.reason == reason)
    ]


def condition(obj: Any, cond_type: str) -> Any:
    for cond in (obj.status.conditions or []) if obj.status else []:
        if cond.type == cond_type:
            return cond
    return None


def deployment_manifest(
    name: str,
    *,
    image: str = "nginx:1.25",
    replicas: int = 2,
    labels: dict | None = None,
    **spec: Any,
) -> dict:
    labels = labels or {"app": name}
    container = {"name": "app", "image": image, **spec.pop("container", {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, **spec.pop("metadata", {})},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            **spec,
        },
    }


def write_manifest(tmp_path: Path, *docs: dict) -> Path:
    """A multi-document YAML file (each document written as JSON, which YAML accepts)."""
    path = tmp_path / f"{uuid.uuid4().hex[:8]}.yaml"
    path.write_text("\n---\n".join(json.dumps(doc) for doc in docs) + "\n")
    return path


def pods(api: client.ApiClient, ns: str, selector: str | None = None) -> list:
    return client.CoreV1Api(api).list_namespaced_pod(ns, label_selector=selector).items


def ok(result: Any) -> Any:
    """Assert a kubectl CompletedProcess succeeded, showing its output when it did not."""
    assert result.returncode == 0, (
        f"kubectl failed ({result.returncode}): {result.stdout}{result.stderr}"
    )
    return result
