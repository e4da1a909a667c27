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


class AuditImmutable(Exception):
    """The application tried to change or delete a row of the audit log."""


class AuditEventQuerySet(models.QuerySet):
    def delete(self):
        raise AuditImmutable("actions are never deleted from the audit log")

    delete.queryset_only = True


class AuditEvent(models.Model):
    """One action a person asked for, and what became of it. The id is the action id.

    Names (actor, cluster) are copied so the record survives the user or cluster being
    deleted. `parameters` are redacted before they are stored.

    This row is the action's current state: its status moves forward, so it is updated, but
    never deleted. Every transition is also appended to the chained AuditEntry log, which is
    what cannot change (see controlplane/audit/integrity.py).
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

    objects = AuditEventQuerySet.as_manager()

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

    def delete(self, *args, **kwargs):
        raise AuditImmutable("actions are never deleted from the audit log")

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


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditImmutable("audit entries are append-only")

    def delete(self):
        raise AuditImmutable("audit entries are append-only")

    update.queryset_only = True
    delete.queryset_only = True


class AuditEntry(models.Model):
    """One transition of one action (created, started, finished), chained to the entry
    before it: `hash` is SHA-256 over this entry's fields and `prev_hash`.

    Append-only: the application can insert entries but not change or delete them. A
    database superuser still can; `manage.py audit_verify` finds where, and an exported
    copy (`manage.py audit_export`) in an external store shows what was there.
    """

    sequence = models.BigIntegerField(primary_key=True)
    action_id = models.UUIDField(db_index=True)  # not a foreign key: entries outlive rows
    transition = models.CharField(max_length=20)
    at = models.DateTimeField()
    # The transition's content as canonical JSON: exactly the text the hash covers.
    content = models.TextField()
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        base_manager_name = "objects"
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.sequence} {self.transition} {self.action_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutable(f"audit entry {self.sequence} cannot be changed")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutable(f"audit entry {self.sequence} cannot be deleted")


class AuditChainHead(models.Model):
    """The chain's last sequence number and hash, in one row. Appending updates it first,
    which serializes writers (a row lock on PostgreSQL, the write lock on SQLite) so two
    processes never chain onto the same entry; verifying compares it with the last entry,
    so entries cut from the end are noticed too."""

    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"audit chain head #{self.sequence}"
