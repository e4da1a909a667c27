"""Training runs: the lineage the cluster cannot keep.

The Job itself lives in the cluster (and disappears with ttlSecondsAfterFinished); a run keeps
what was asked for (parameters as submitted, by whom, when, from which parent run), and what
was seen of it (the last status, each pod's log tail, the parsed progress, the final
metrics), so a run can still be read after its pods are gone.
"""

from django.conf import settings
from django.db import models


class RunStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"  # the launch action has not created the Job yet
    PENDING = "pending", "Pending"  # the Job exists; no pod has started
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    LOST = "lost", "Lost"  # the Job vanished before it finished (deleted outside this app)


FINISHED_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.LOST)


class TrainingRun(models.Model):
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="training_runs"
    )
    namespace = models.CharField(max_length=63)
    job_name = models.CharField(max_length=63)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="training_runs",
    )
    created_by_name = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # The checked launch request, as the form or API sent it (plain JSON).
    parameters = models.JSONField(default=dict)
    output_uri = models.CharField(max_length=1024, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    # "clone" (edited parameters, new output) or "resume" (same output, --resume).
    relation = models.CharField(max_length=16, blank=True)
    launch_action = models.ForeignKey(
        "audit.AuditEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.SUBMITTED)
    # The Job's status as last read: conditions, active/succeeded/failed, start/completion.
    job_status = models.JSONField(default=dict)
    # Each pod seen: name, phase, node, started/finished, exit code, container names.
    pods = models.JSONField(default=list)
    # {"<pod>/<container>": "<last LOG_TAIL_BYTES of the log>"}
    logs = models.JSONField(default=dict)
    # {"start": {...}, "epochs": [...], "end": {...}}: the program's TRAINING_PROGRESS events.
    progress = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    # OUTPUT/metrics.json of a succeeded run, read once; else why it could not be read.
    metrics_file = models.JSONField(default=dict)
    metrics_file_note = models.CharField(max_length=1000, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    synced = models.DateTimeField(null=True, blank=True)
    sync_error = models.TextField(blank=True)
    # Set once the logs and progress were read after the Job finished: nothing more to keep.
    final_synced = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["cluster", "namespace", "-created"]),
            models.Index(fields=["final_synced"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace", "job_name"], name="trainingrun_job_unique"
            )
        ]

    def __str__(self) -> str:
        return f"training run {self.id} ({self.namespace}/{self.job_name})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES
