from django.conf import settings
from django.db import models

from .roles import Role


class RoleGrant(models.Model):
    """A user's role on one cluster, optionally narrowed to some namespaces.

    An empty `namespaces` list means the whole cluster. A narrowed grant applies only inside
    its namespaces; cluster-scoped reads ("view" with no namespace) show the cluster with its
    namespaces filtered to those.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_grants"
    )
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="role_grants"
    )
    role = models.CharField(max_length=20, choices=Role.choices())
    namespaces = models.JSONField(default=list, blank=True)
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
