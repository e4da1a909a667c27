"""What the kube layer needs to reach one cluster, as an immutable value."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClusterConnection:
    # `key` changes whenever the server or credentials change, so cached clients are rebuilt.
    key: str
    server: str
    ca_data: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    client_cert_data: str | None = field(default=None, repr=False)
    client_key_data: str | None = field(default=None, repr=False)
    insecure: bool = False
    # kubeconfig's tls-server-name: sent as SNI and checked against the server's certificate
    # instead of the host of `server` (which is still where the connection goes).
    tls_server_name: str | None = None
