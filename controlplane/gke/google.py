"""Every call to Google: the Kubernetes Engine API (google-cloud-container, REST transport) and
access tokens (google-auth). Nothing else in the project imports google.*.

Answers are plain dicts in the API's JSON shape (camelCase, enums by name), so callers never
see protobuf types; failures are GkeError with Google's message verbatim.
"""

from __future__ import annotations

import datetime
import json
import threading
from typing import TYPE_CHECKING, Any

import google.auth
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from .errors import GkeCredentialsRefused, GkeError, GkeUnavailable

if TYPE_CHECKING:
    from google.cloud import container_v1


def _container_v1():
    # The Kubernetes Engine client and its protobuf types add tens of megabytes to every
    # process that loads the URLs; only the worker's GKE calls need them.
    from google.cloud import container_v1

    return container_v1


SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
_TIMEOUT = 30.0

_lock = threading.Lock()
# Token credentials per GKE credential: (fingerprint of what they were built from, credentials).
_token_credentials: dict[int, tuple[str, Any]] = {}


def _google_credentials(*, key: dict | None):
    """Service-account credentials from an uploaded key, else Application Default Credentials
    (workload identity when the control plane runs in GKE)."""
    if key is not None:
        return service_account.Credentials.from_service_account_info(key, scopes=SCOPES)
    credentials, _project = google.auth.default(scopes=SCOPES)
    return credentials


def _message(exc: api_exceptions.GoogleAPICallError) -> tuple[str, str]:
    """(Google's message, status name) from the error body; the client's own text prefixes
    the method and URL."""
    response = getattr(exc, "response", None)
    try:
        error = response.json()["error"]
        return str(error.get("message", exc.message)), str(error.get("status", ""))
    except (AttributeError, ValueError, KeyError, TypeError):
        status = getattr(exc, "grpc_status_code", None)
        return str(exc.message), getattr(status, "name", "") or ""


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except auth_exceptions.RefreshError as exc:
        raise GkeCredentialsRefused(
            f"Google refused the credentials: {exc.args[0] if exc.args else exc}",
            code=401,
            status="UNAUTHENTICATED",
        ) from exc
    except auth_exceptions.TransportError as exc:
        raise GkeUnavailable(f"the token endpoint could not be reached: {exc}") from exc
    except api_exceptions.GoogleAPICallError as exc:
        message, status = _message(exc)
        code = int(exc.code or 0)
        cls = GkeUnavailable if code >= 500 or code == 0 else GkeError
        raise cls(message, code=code, status=status) from exc
    except api_exceptions.RetryError as exc:
        raise GkeUnavailable(f"Google did not answer in time: {exc}") from exc
    except OSError as exc:  # requests' connection errors are OSErrors
        raise GkeUnavailable(f"the Kubernetes Engine API could not be reached: {exc}") from exc


def _client(*, key: dict | None, endpoint: str) -> container_v1.ClusterManagerClient:
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    return _container_v1().ClusterManagerClient(
        credentials=_google_credentials(key=key), transport="rest", client_options=options
    )


def _plain(message) -> dict:
    return json.loads(
        type(message).to_json(
            message, use_integers_for_enums=False, always_print_fields_with_no_presence=False
        )
    )


def _parent(project: str, location: str) -> str:
    return f"projects/{project}/locations/{location}"


# ---- reads ----


def clusters_list(*, key: dict | None, endpoint: str, project: str, location: str) -> list[dict]:
    client = _client(key=key, endpoint=endpoint)
    answer = _call(client.list_clusters, parent=_parent(project, location), timeout=_TIMEOUT)
    return _plain(answer).get("clusters", [])


def cluster_get(*, key: dict | None, endpoint: str, project: str, location: str, name: str) -> dict:
    client = _client(key=key, endpoint=endpoint)
    path = f"{_parent(project, location)}/clusters/{name}"
    return _plain(_call(client.get_cluster, name=path, timeout=_TIMEOUT))


def operation_get(
    *, key: dict | None, endpoint: str, project: str, location: str, name: str
) -> dict:
    client = _client(key=key, endpoint=endpoint)
    path = f"{_parent(project, location)}/operations/{name}"
    return _plain(_call(client.get_operation, name=path, timeout=_TIMEOUT))


def operations_list(*, key: dict | None, endpoint: str, project: str, location: str) -> list[dict]:
    client = _client(key=key, endpoint=endpoint)
    answer = _call(client.list_operations, parent=_parent(project, location), timeout=_TIMEOUT)
    return _plain(answer).get("operations", [])


# ---- long-running mutations: each returns the Operation as Google answered it ----


def cluster_create(
    *, key: dict | None, endpoint: str, project: str, location: str, spec: dict
) -> dict:
    """`spec`: the Cluster resource in the API's JSON shape (name, initialNodeCount, ...)."""
    client = _client(key=key, endpoint=endpoint)
    cluster = _container_v1().Cluster.from_json(json.dumps(spec), ignore_unknown_fields=False)
    op = _call(
        client.create_cluster, parent=_parent(project, location), cluster=cluster, timeout=_TIMEOUT
    )
    return _plain(op)


def cluster_delete(
    *, key: dict | None, endpoint: str, project: str, location: str, name: str
) -> dict:
    client = _client(key=key, endpoint=endpoint)
    path = f"{_parent(project, location)}/clusters/{name}"
    return _plain(_call(client.delete_cluster, name=path, timeout=_TIMEOUT))


def nodepool_create(
    *, key: dict | None, endpoint: str, project: str, location: str, cluster: str, spec: dict
) -> dict:
    client = _client(key=key, endpoint=endpoint)
    pool = _container_v1().NodePool.from_json(json.dumps(spec), ignore_unknown_fields=False)
    parent = f"{_parent(project, location)}/clusters/{cluster}"
    return _plain(_call(client.create_node_pool, parent=parent, node_pool=pool, timeout=_TIMEOUT))


def _pool_path(project: str, location: str, cluster: str, pool: str) -> str:
    return f"{_parent(project, location)}/clusters/{cluster}/nodePools/{pool}"


def nodepool_delete(
    *, key: dict | None, endpoint: str, project: str, location: str, cluster: str, pool: str
) -> dict:
    client = _client(key=key, endpoint=endpoint)
    path = _pool_path(project, location, cluster, pool)
    return _plain(_call(client.delete_node_pool, name=path, timeout=_TIMEOUT))


def nodepool_set_size(
    *, key: dict | None, endpoint: str, project: str, location: str, cluster: str, pool: str,
    node_count: int,
) -> dict:  # fmt: skip
    client = _client(key=key, endpoint=endpoint)
    request = {"name": _pool_path(project, location, cluster, pool), "node_count": node_count}
    return _plain(_call(client.set_node_pool_size, request=request, timeout=_TIMEOUT))


def nodepool_set_autoscaling(
    *, key: dict | None, endpoint: str, project: str, location: str, cluster: str, pool: str,
    enabled: bool, min_node_count: int, max_node_count: int,
) -> dict:  # fmt: skip
    client = _client(key=key, endpoint=endpoint)
    autoscaling = _container_v1().NodePoolAutoscaling(
        enabled=enabled, min_node_count=min_node_count, max_node_count=max_node_count
    )
    request = {"name": _pool_path(project, location, cluster, pool), "autoscaling": autoscaling}
    return _plain(_call(client.set_node_pool_autoscaling, request=request, timeout=_TIMEOUT))


# ---- access tokens for registered clusters ----


def access_token(
    *, credential_id: int, fingerprint: str, key: dict | None
) -> tuple[str, datetime.datetime | None]:
    """A Google access token for the credential, refreshed through google-auth when it is
    expired or close to it; (token, expiry). One set of credentials per GKE credential and
    process, rebuilt when the credential changes (`fingerprint`)."""
    with _lock:
        entry = _token_credentials.get(credential_id)
        if entry is None or entry[0] != fingerprint:
            entry = (fingerprint, _google_credentials(key=key))
            _token_credentials[credential_id] = entry
        credentials = entry[1]
        if not credentials.valid:
            _call(credentials.refresh, Request())
        return credentials.token, credentials.expiry


def access_tokens_forget() -> None:
    """Drop every cached token (tests; a process that must not reuse them)."""
    with _lock:
        _token_credentials.clear()


def key_problem(raw: object) -> str | None:
    """Why `raw` is not a service-account key google-auth can use, or None."""
    if not isinstance(raw, dict):
        return "must be a JSON object (the key file Google Cloud gives you)"
    if raw.get("type") != "service_account":
        return 'must be a service-account key ("type": "service_account")'
    for field in ("client_email", "private_key", "private_key_id", "token_uri", "project_id"):
        if not isinstance(raw.get(field), str) or not raw[field]:
            return f"the key has no {field}"
    try:
        service_account.Credentials.from_service_account_info(raw, scopes=SCOPES)
    except (ValueError, TypeError) as exc:
        return f"google-auth cannot read the key: {exc}"
    return None
