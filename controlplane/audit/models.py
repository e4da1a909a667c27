import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class ActionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REFUSED = "refused", "Refused"
    # A newer request for the same absolute state (e.g. the replicas of one deployment) was
    # accepted before this one ran; applying this one would undo it.
    SUPERSEDED = "superseded", "Superseded"


OPEN_STATUSES = (ActionStatus.PENDING, ActionStatus.RUNNING)
# Outcomes that decided nothing: a newer request is superseded only by one that was accepted.
UNACCEPTED_STATUSES = (ActionStatus.REFUSED, ActionStatus.FAILED)

# The actor filter's value for actions nobody asked for (the system's); no username can be
# it, since usernames have no parentheses.
SYSTEM_ACTOR = "(system)"


class AuditEvent(models.Model):
    """One action a person asked for, and what became of it. The id is the action id.

    Names (actor, cluster) are copied so the record survives the user or cluster being
    deleted. `parameters` are redacted before they are stored.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    cluster = models.ForeignKey(
        "clusters.Cluster",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    cluster_name = models.CharField(max_length=63, blank=True)
    namespace = models.CharField(max_length=63, blank=True)
    kind = models.CharField(max_length=63)
    name = models.CharField(max_length=253, blank=True)
    verb = models.CharField(max_length=63)
    parameters = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=20, choices=ActionStatus.choices, default=ActionStatus.PENDING
    )
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    # How many times a worker started this action (more than one after a lost worker).
    attempts = models.PositiveIntegerField(default=0)
    # The Celery task that performs it, and how often it was put on the queue (the sweep
    # re-queues actions that no worker took, e.g. after Redis lost its queue).
    task = models.CharField(max_length=200, blank=True)
    enqueues = models.PositiveIntegerField(default=0)
    # Absolute-state actions name the state they set ("deployment/<c>/<ns>/<name>/replicas");
    # the last accepted request for one state decides it, older ones are superseded.
    state_key = models.CharField(max_length=600, blank=True, db_index=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["cluster_name", "namespace", "-created"]),
            models.Index(fields=["actor_name", "-created"]),
            models.Index(fields=["status", "-created"]),
        ]

    def __str__(self) -> str:
        target = "/".join(part for part in (self.namespace, self.name) if part)
        return f"{self.actor_name} {self.verb} {self.kind} {target} ({self.status})"

    @property
    def actor_label(self) -> str:
        """Who to name on pages: actions without a person behind them were the system's."""
        return self.actor_name or "system"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def waiting_for_worker(self) -> bool:
        """Pending past the pickup deadline: no worker has taken it (yet)."""
        if self.status != ActionStatus.PENDING or self.created is None:
            return False
        age = (timezone.now() - self.created).total_seconds()
        return age > settings.ACTION_PICKUP_DEADLINE
