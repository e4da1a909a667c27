"""GET through the API server's pods/proxy subresource: a pod's own HTTP endpoint (its
Prometheus /metrics) reached with the cluster's credentials, with no network path to the pod
and no extra infrastructure."""

from __future__ import annotations

from urllib.parse import quote

from kubernetes.client.exceptions import ApiException

from . import retry
from .client import api_client, timeouts
from .connection import ClusterConnection


def pod_proxy_get(
    conn: ClusterConnection, *, namespace: str, pod: str, port: int | None, path: str
) -> str:
    """The text the pod answers on GET `path` (at `port`, else the pod's first port)."""
    target = f"{pod}:{port}" if port else pod
    resource = (
        f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(target, safe=':')}"
        f"/proxy/{path.lstrip('/')}"
    )
    client = api_client(conn)

    def once() -> str:
        params = client.param_serialize(
            method="GET",
            resource_path=resource,
            header_params={"Accept": "text/plain;version=0.0.4, */*"},
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
        return data.decode("utf-8", errors="replace")

    # One attempt: the next sampling cycle is the retry.
    return retry.call(once, what=f"GET {resource}", retry=False)
