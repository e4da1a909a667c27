"""One `kubernetes.client.ApiClient` per cluster connection, cached and rebuilt on change.

Client certificates and keys must be files for urllib3, so they are written to a private
(0700) temporary directory that lives exactly as long as the cached client.
"""

import atexit
import base64
import logging
import os
import shutil
import tempfile
import threading

import kubernetes.client
from django.conf import settings

from .connection import ClusterConnection

log = logging.getLogger(__name__)

_lock = threading.Lock()
_clients: dict[str, tuple[kubernetes.client.ApiClient, str | None]] = {}
# The key a cluster name was last built with: a new key for the same cluster drops the old one.
_key_by_prefix: dict[str, str] = {}


def timeouts() -> tuple[float, float]:
    """(connect, read) timeout in seconds, passed as `_request_timeout` on every call."""
    return (settings.KUBE_CONNECT_TIMEOUT, settings.KUBE_READ_TIMEOUT)


def _write_private(directory: str, name: str, b64_data: str) -> str:
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.b64decode(b64_data))
    return path


def _build(conn: ClusterConnection) -> tuple[kubernetes.client.ApiClient, str | None]:
    config = kubernetes.client.Configuration()
    config.host = conn.server.rstrip("/")
    # Retries happen in controlplane.kube.retry, nowhere else.
    config.retries = False
    config.verify_ssl = not conn.insecure
    if conn.ca_data:
        config.ca_cert_data = base64.b64decode(conn.ca_data).decode("ascii")
    if conn.tls_server_name:
        config.tls_server_name = conn.tls_server_name
    if conn.token:
        config.api_key = {"authorization": conn.token}
        config.api_key_prefix = {"authorization": "Bearer"}
    cert_dir = None
    if conn.client_cert_data and conn.client_key_data:
        cert_dir = tempfile.mkdtemp(prefix="cp-kube-")
        config.cert_file = _write_private(cert_dir, "client.crt", conn.client_cert_data)
        config.key_file = _write_private(cert_dir, "client.key", conn.client_key_data)
    config.connection_pool_maxsize = settings.KUBE_POOL_MAXSIZE
    # Never pick up proxies or kubeconfigs from the environment: the cluster row says it all.
    config.proxy = None
    return kubernetes.client.ApiClient(configuration=config), cert_dir


def _dispose(entry: tuple[kubernetes.client.ApiClient, str | None]) -> None:
    client, cert_dir = entry
    try:
        client.rest_client.pool_manager.clear()
    finally:
        if cert_dir:
            shutil.rmtree(cert_dir, ignore_errors=True)


def api_client(conn: ClusterConnection) -> kubernetes.client.ApiClient:
    with _lock:
        entry = _clients.get(conn.key)
        if entry is None:
            # Keys look like "<cluster>:<fingerprint>"; drop the stale client of that cluster.
            prefix = conn.key.split(":", 1)[0]
            old_key = _key_by_prefix.get(prefix)
            if old_key and old_key in _clients:
                _dispose(_clients.pop(old_key))
            entry = _build(conn)
            _clients[conn.key] = entry
            _key_by_prefix[prefix] = conn.key
        return entry[0]


def clear_clients() -> None:
    with _lock:
        while _clients:
            _dispose(_clients.popitem()[1])
        _key_by_prefix.clear()


atexit.register(clear_clients)
