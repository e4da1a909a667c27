import hashlib

from django.db import models

from controlplane.clusters.crypto import decrypt_json


class CredentialKind(models.TextChoices):
    SERVICE_ACCOUNT_KEY = "key", "Service-account key"
    APPLICATION_DEFAULT = "adc", "Application Default Credentials"


class GkeCredential(models.Model):
    """How the control plane reaches the Kubernetes Engine API of one Google Cloud project."""

    project_id = models.CharField(max_length=30, unique=True)
    kind = models.CharField(max_length=10, choices=CredentialKind.choices)
    # Not secret: shown so an admin knows which account acts.
    client_email = models.CharField(max_length=254, blank=True)
    # Blank: Google's API (container.googleapis.com). Otherwise e.g. the local endpoint.
    endpoint = models.CharField(max_length=300, blank=True)
    # Fernet token of the service-account key JSON, with the clusters' credential keys.
    # Never rendered, serialized or logged.
    key_encrypted = models.TextField(blank=True, editable=False)
    # The last time Google refused these credentials, and what it said (cleared on success).
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project_id"]

    def __str__(self) -> str:
        return self.project_id

    def __repr__(self) -> str:
        return f"<GkeCredential {self.project_id} {self.kind}>"

    def key(self) -> dict | None:
        if self.kind != CredentialKind.SERVICE_ACCOUNT_KEY or not self.key_encrypted:
            return None
        return decrypt_json(self.key_encrypted)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the key or endpoint does; a hash, so it reveals nothing."""
        material = f"{self.kind}|{self.endpoint}|{self.key_encrypted}"
        return hashlib.sha256(material.encode()).hexdigest()[:16]


class GkeOperation(models.Model):
    """A long-running GKE operation an action started, as last seen while following it."""

    action_id = models.UUIDField(unique=True)
    credential = models.ForeignKey(
        GkeCredential, on_delete=models.CASCADE, related_name="operations"
    )
    location = models.CharField(max_length=63)
    cluster = models.CharField(max_length=63)
    node_pool = models.CharField(max_length=63, blank=True)
    operation_type = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.operation_type} {self.cluster} {self.status}"

    @property
    def is_done(self) -> bool:
        return self.status == "DONE"

    @property
    def nodes(self) -> tuple[int, int] | None:
        """(done, total) from the operation's progress metrics, when it reports them."""
        metrics = {m.get("name"): m.get("intValue") for m in self.progress.get("metrics", [])}
        if "NODES_DONE" in metrics and "NODES_TOTAL" in metrics:
            return int(metrics["NODES_DONE"] or 0), int(metrics["NODES_TOTAL"] or 0)
        return None
