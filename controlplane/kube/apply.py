"""Reading and server-side applying objects of the kinds "Apply YAML" accepts.

The generated client has one class per group, so these calls are raw requests through the
cluster's cached client instead: the same timeouts, the same retry policy, the same typed
errors. Every write carries fieldValidation=Strict, so a field in the wrong place (backoffLimit
in a Job's pod template) is refused naming it instead of being dropped in silence.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from kubernetes.client.exceptions import ApiException

from . import retry
from .client import api_client, timeouts
from .connection import ClusterConnection

APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "mlcp"

# (apiVersion, kind) -> plural: the only kinds this path reads or writes (all namespaced).
KINDS: dict[tuple[str, str], str] = {
    ("apps/v1", "Deployment"): "deployments",
    ("v1", "Service"): "services",
    ("v1", "ConfigMap"): "configmaps",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("batch/v1", "Job"): "jobs",
    ("networking.k8s.io/v1", "Ingress"): "ingresses",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "httproutes",
}


def object_path(*, api_version: str, kind: str, namespace: str, name: str) -> str:
    plural = KINDS[(api_version, kind)]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    return f"{prefix}/namespaces/{quote(namespace, safe='')}/{plural}/{quote(name, safe='')}"


def _request(
    conn: ClusterConnection,
    *,
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    body: dict | None = None,
    content_type: str | None = None,
) -> dict:
    client = api_client(conn)
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    payload = json.dumps(body) if body is not None else None

    def once() -> dict:
        params = client.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=payload,
            auth_settings=["BearerToken"],
        )
        response = client.call_api(*params, _request_timeout=timeouts())
        try:
            data = response.read()
        finally:
            response.response.release_conn()
        if not 200 <= response.status < 300:
            error = ApiException(status=response.status, reason=response.reason)
            error.body = data
            error.headers = response.headers
            raise error
        return json.loads(data or b"{}")

    return retry.call(once, what=f"{method} {path}")


def object_get(
    conn: ClusterConnection, *, api_version: str, kind: str, namespace: str, name: str
) -> dict:
    path = object_path(api_version=api_version, kind=kind, namespace=namespace, name=name)
    return _request(conn, method="GET", path=path)


def object_apply(
    conn: ClusterConnection, *, body: dict, namespace: str, dry_run: bool = False
) -> dict:
    """Server-side apply of one object as the "mlcp" field manager, never forced: a field
    another manager owns is a Conflict, not an overwrite. With dry_run the server validates,
    defaults and answers the result, and stores nothing (dryRun=All)."""
    meta = body["metadata"]
    path = object_path(
        api_version=body["apiVersion"], kind=body["kind"], namespace=namespace, name=meta["name"]
    )
    query = [("fieldManager", FIELD_MANAGER), ("fieldValidation", "Strict"), ("force", "false")]
    if dry_run:
        query.append(("dryRun", "All"))
    # An apply is idempotent (the same object twice is the same state), so it is retried.
    return _request(
        conn, method="PATCH", path=path, query=query, body=body, content_type=APPLY_PATCH
    )
