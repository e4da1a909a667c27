"""metrics.k8s.io v1beta1: PodMetrics and NodeMetrics lists, as plain dicts.

A cluster without a metrics server has no such API group (404), or an APIService whose backend
is down (503 naming metrics.k8s.io). Both are reported as `MetricsApiAbsent`, with the API
server's own message, so callers can say "this cluster has no metrics API" instead of retrying
or drawing nothing; any other failure stays the ordinary typed error.
"""

from __future__ import annotations

import json

from django.conf import settings
from kubernetes.client.exceptions import ApiException

from . import retry
from .client import api_client
from .connection import ClusterConnection
from .errors import KubeError, NotFound, Unavailable

GROUP_PATH = "/apis/metrics.k8s.io/v1beta1"


class MetricsApiAbsent(KubeError):
    """The cluster serves no metrics.k8s.io (no metrics server, or it is not answering)."""


def _timeouts() -> tuple[float, float]:
    # A sampling cycle must end before the next one: the read timeout never exceeds the
    # interval even when KUBE_READ_TIMEOUT is longer.
    read = min(settings.KUBE_READ_TIMEOUT, max(settings.METRICS_INTERVAL, 1.0))
    return (settings.KUBE_CONNECT_TIMEOUT, read)


def _get(conn: ClusterConnection, path: str) -> dict:
    client = api_client(conn)

    def once() -> dict:
        params = client.param_serialize(
            method="GET",
            resource_path=path,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = client.call_api(*params, _request_timeout=_timeouts())
        try:
            body = response.read()
        finally:
            response.response.release_conn()
        if not 200 <= response.status < 300:
            error = ApiException(status=response.status, reason=response.reason)
            error.body = body
            error.headers = response.headers
            raise error
        return json.loads(body or b"{}")

    try:
        # One attempt: the next cycle is the retry, and a retried list could outlast it.
        return retry.call(once, what=f"list {path}", retry=False)
    except NotFound as exc:
        raise MetricsApiAbsent(
            f"the cluster has no metrics.k8s.io API ({exc.message})", status=404
        ) from exc
    except Unavailable as exc:
        if exc.status == 503 and "metrics" in exc.message:
            raise MetricsApiAbsent(
                f"the cluster's metrics.k8s.io API is not available ({exc.message})", status=503
            ) from exc
        raise


def pod_metrics_list(conn: ClusterConnection) -> list[dict]:
    """Every PodMetrics of every namespace, in one list call."""
    return list(_get(conn, f"{GROUP_PATH}/pods").get("items") or [])


def node_metrics_list(conn: ClusterConnection) -> list[dict]:
    """Every NodeMetrics, in one list call."""
    return list(_get(conn, f"{GROUP_PATH}/nodes").get("items") or [])
