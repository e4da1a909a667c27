"""Traffic-routing objects of experiments: networking.k8s.io/v1 Ingress and Gateway API
(gateway.networking.k8s.io/v1) HTTPRoute, created, replaced and deleted as whole objects.

The generated client has no class for the Gateway API group, so these are raw requests through
the cluster's cached client: the same timeouts, retry policy and typed errors as every call.
Replacing is an absolute write (the object as the experiment says it should be now), re-read
and retried on 409, so running it twice leaves the same state.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from django.conf import settings
from kubernetes.client.exceptions import ApiException

from . import retry
from .client import api_client, timeouts
from .connection import ClusterConnection
from .errors import AlreadyExists, Conflict, NotFound

# kind -> (API path prefix, plural)
KINDS = {
    "Ingress": ("/apis/networking.k8s.io/v1", "ingresses"),
    "HTTPRoute": ("/apis/gateway.networking.k8s.io/v1", "httproutes"),
}


def _collection(kind: str, namespace: str) -> str:
    prefix, plural = KINDS[kind]
    return f"{prefix}/namespaces/{quote(namespace, safe='')}/{plural}"


def _path(kind: str, namespace: str, name: str) -> str:
    return f"{_collection(kind, namespace)}/{quote(name, safe='')}"


def _request(
    conn: ClusterConnection, *, method: str, path: str, body: dict | None = None, retry_ok=True
) -> dict:
    client = api_client(conn)
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"

    def once() -> dict:
        params = client.param_serialize(
            method=method,
            resource_path=path,
            header_params=headers,
            # A dict: the client serialises JSON bodies itself (a string would be re-encoded).
            body=body,
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

    return retry.call(once, what=f"{method} {path}", retry=retry_ok)


def route_get(conn: ClusterConnection, *, kind: str, namespace: str, name: str) -> dict:
    return _request(conn, method="GET", path=_path(kind, namespace, name))


def route_put(conn: ClusterConnection, *, body: dict) -> dict:
    """Create the object, or replace the one of that name with `body` (re-read on 409)."""
    kind, meta = body["kind"], body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    for _attempt in range(settings.KUBE_CONFLICT_ATTEMPTS):
        try:
            current = route_get(conn, kind=kind, namespace=namespace, name=name)
        except NotFound:
            try:
                # Not retried blindly: a create that landed but whose answer was lost would
                # come back as AlreadyExists, which the next round turns into a replace.
                return _request(
                    conn,
                    method="POST",
                    path=_collection(kind, namespace),
                    body=body,
                    retry_ok=False,
                )
            except AlreadyExists:
                continue
        replacement = json.loads(json.dumps(body))
        replacement["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        try:
            return _request(conn, method="PUT", path=_path(kind, namespace, name), body=replacement)
        except (Conflict, NotFound):
            continue
    raise Conflict(f"{kind} {namespace}/{name} kept changing while it was being replaced")


def route_delete(conn: ClusterConnection, *, kind: str, namespace: str, name: str) -> bool:
    """Delete the object; False when it was already gone."""
    try:
        _request(conn, method="DELETE", path=_path(kind, namespace, name))
    except NotFound:
        return False
    return True
