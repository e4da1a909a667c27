import base64
import hashlib

from django.conf import settings
from django.core.validators import validate_slug
from django.db import models

from controlplane.kube.connection import ClusterConnection

from .cadata import ca_pem_b64
from .crypto import decrypt_json
from .tokens import token_provider_token


class ClusterSource(models.TextChoices):
    KUBECONFIG = "kubeconfig", "Uploaded kubeconfig"
    IN_CLUSTER = "in_cluster", "In-cluster service account"
    SANDBOX = "sandbox", "Local sandbox"
    # Created through controlplane.gke: the token is a Google access token, minted on demand.
    GKE = "gke", "Google Kubernetes Engine"


class Cluster(models.Model):
    name = models.SlugField(max_length=63, unique=True, validators=[validate_slug])
    display_name = models.CharField(max_length=200, blank=True)
    server = models.CharField(max_length=500, help_text="API server address")
    source = models.CharField(max_length=20, choices=ClusterSource.choices)
    context = models.CharField(max_length=253, blank=True, help_text="kubeconfig context used")
    default_namespace = models.CharField(max_length=63, default="default")
    # Fernet token of the JSON credentials (ca_data, token, client cert/key, insecure,
    # tls_server_name).
    # Never rendered, serialized or logged; see controlplane.clusters.crypto.
    credentials_encrypted = models.TextField(blank=True, editable=False)
    # Off: reading pod logs needs the operator role (logs can carry what a viewer should not see).
    logs_for_viewers = models.BooleanField(
        default=True, help_text="Viewers may read pod logs (otherwise operators and above only)"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.display_name or self.name

    def __repr__(self) -> str:
        return f"<Cluster {self.name} {self.server}>"

    @property
    def label(self) -> str:
        return self.display_name or self.name

    def _credentials(self) -> dict:
        if self.source == ClusterSource.IN_CLUSTER:
            return _in_cluster_credentials()
        if not self.credentials_encrypted:
            return {}
        stored = decrypt_json(self.credentials_encrypted)
        if self.source == ClusterSource.GKE:
            # A new token (on expiry) changes the connection key, so clients are rebuilt.
            return {**stored, "token": token_provider_token(source=self.source, stored=stored)}
        return stored

    def connection(self) -> ClusterConnection:
        creds = self._credentials()
        # The fingerprint changes with the server or any credential, so cached clients are
        # rebuilt then; it is a hash, so it reveals nothing.
        material = "|".join(
            str(creds.get(part) or "")
            for part in (
                "ca_data",
                "token",
                "client_cert_data",
                "client_key_data",
                "insecure",
                "tls_server_name",
            )
        )
        fingerprint = hashlib.sha256(f"{self.server}|{material}".encode()).hexdigest()[:16]
        return ClusterConnection(
            key=f"{self.name}:{fingerprint}",
            server=self.server,
            ca_data=ca_pem_b64(creds.get("ca_data")),
            token=creds.get("token"),
            client_cert_data=creds.get("client_cert_data"),
            client_key_data=creds.get("client_key_data"),
            insecure=bool(creds.get("insecure", False)),
            tls_server_name=creds.get("tls_server_name") or None,
        )


def _in_cluster_credentials() -> dict:
    # Read on every connection: projected service-account tokens rotate.
    token = settings.IN_CLUSTER_TOKEN_PATH.read_text().strip()
    ca = settings.IN_CLUSTER_CA_PATH.read_bytes()
    return {"token": token, "ca_data": base64.b64encode(ca).decode(), "insecure": False}
