from django.conf import settings
from django.db import models
from django.utils import timezone

from .roles import Role


class GrantSource(models.TextChoices):
    MANUAL = "manual", "given by hand"
    GROUP = "group", "from SSO groups"


class RoleGrant(models.Model):
    """A user's role on one cluster, optionally narrowed to some namespaces.

    An empty `namespaces` list means the whole cluster. A narrowed grant applies only inside
    its namespaces; cluster-scoped reads ("view" with no namespace) show the cluster with its
    namespaces filtered to those. `source` says where it came from: given by hand, or derived
    from the user's groups at their last single sign-on (recomputed at every such login).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants"
    )
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.CharField(max_length=20, choices=Role.choices())
    namespaces = models.JSONField(default=list, blank=True)
    source = models.CharField(
        max_length=10, choices=GrantSource.choices, default=GrantSource.MANUAL
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "cluster"], name="one_grant_per_user_cluster")
        ]
        ordering = ["cluster__name", "user__username"]

    def __str__(self) -> str:
        scope = ", ".join(self.namespaces) if self.namespaces else "all namespaces"
        return f"{self.user} is {self.role} on {self.cluster.name} ({scope})"

    @property
    def role_enum(self) -> Role:
        return Role.from_slug(self.role)


class ApiToken(models.Model):
    """A personal API token, sent as `Authorization: Token <key>`.

    Only a SHA-256 digest of the key is stored (the key is 256 random bits, so a fast hash is
    enough); `prefix`, a non-secret part of the key, finds the row. The key itself is shown
    once, to whoever created it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_digest = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @property
    def state(self) -> str:
        """ "active", "expired" or "revoked" (for pages and the API)."""
        if self.revoked is not None:
            return "revoked"
        return "expired" if self.expires <= timezone.now() else "active"


class ExternalIdentity(models.Model):
    """Who a user is at an OpenID provider: the (issuer, subject) pair of their ID tokens.

    Single sign-on matches people by this pair only, never by username or email, which the
    provider's users may choose or change.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True)  # as of the last login
    created = models.DateTimeField(auto_now_add=True)
    last_login = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_identity")
        ]
        verbose_name_plural = "external identities"

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer} ({self.user})"


class GroupMapping(models.Model):
    """Members of the provider's `group` get `role` on `cluster` at their next single sign-on."""

    group = models.CharField(max_length=255)
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="group_mappings"
    )
    role = models.CharField(max_length=20, choices=Role.choices())
    namespaces = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "cluster", "role"], name="one_mapping_per_group_cluster_role"
            )
        ]
        ordering = ["cluster__name", "group", "role"]

    def __str__(self) -> str:
        scope = ", ".join(self.namespaces) if self.namespaces else "all namespaces"
        return f"group {self.group} is {self.role} on {self.cluster.name} ({scope})"

    @property
    def role_enum(self) -> Role:
        return Role.from_slug(self.role)
