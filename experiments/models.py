"""Experiments: what the cluster cannot hold. The routing objects live in the cluster (named and
labelled after the experiment); the variants, the timeline of weights and lifecycle events,
the outcomes reported over the feedback API and the collected metric buckets live here."""

from django.db import models

from controlplane.clusters.models import Cluster


class State(models.TextChoices):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    CONCLUDED = "concluded"
    ABORTED = "aborted"


class Routing(models.TextChoices):
    FANOUT = "fanout", "Ingress path fan-out"
    WEIGHTED = "weighted", "Weighted HTTPRoute"
    STICKY = "sticky", "Sticky HTTPRoute (header or cookie)"


class Experiment(models.Model):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="experiments")
    namespace = models.CharField(max_length=63)
    name = models.CharField(max_length=63)
    hypothesis = models.TextField(blank=True)
    routing = models.CharField(max_length=16, choices=Routing.choices)
    primary_metric = models.CharField(max_length=32)
    # [{"metric", "max_increase", "action": "pause" | "rollback"}]
    guardrails = models.JSONField(default=list)
    min_samples = models.PositiveIntegerField(default=100)
    min_duration = models.PositiveIntegerField(default=0, help_text="seconds running")
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    winner = models.CharField(max_length=63, blank=True)
    promotion = models.CharField(max_length=16, blank=True)
    # The latest guardrail evaluation, with measured values and thresholds.
    guardrail_status = models.JSONField(default=dict)
    created_by = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    ended = models.DateTimeField(null=True, blank=True)
    last_collected = models.DateTimeField(null=True, blank=True)
    collection_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace", "name"], name="experiment_unique_name"
            )
        ]
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.namespace}/{self.name}"

    @property
    def control(self) -> "Variant":
        return next(v for v in self.variants.all() if v.control)


class Variant(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    name = models.CharField(max_length=63)
    deployment = models.CharField(max_length=253)
    service = models.CharField(max_length=63)
    port = models.PositiveIntegerField()
    weight = models.PositiveSmallIntegerField()
    control = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="variant_unique_name")
        ]
        ordering = ["position"]

    def __str__(self) -> str:
        return f"{self.name} ({self.weight}%)"


class TimelineEntry(models.Model):
    """A lifecycle event or a change of the traffic split, in the order it took effect."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    kind = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=State.choices)
    # The traffic each variant received from this moment: {variant: percent}.
    weights = models.JSONField(default=dict)
    detail = models.TextField(blank=True)
    actor = models.CharField(max_length=150, blank=True)
    action_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            # One entry per action: a task that runs twice does not record twice.
            models.UniqueConstraint(
                fields=["experiment", "action_id"], name="timeline_once_per_action"
            )
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}"


class Outcome(models.Model):
    """One reported outcome: a conversion or a numeric score, once per request id."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="outcomes")
    request_id = models.CharField(max_length=200)
    variant = models.CharField(max_length=63)
    converted = models.BooleanField(null=True)
    value = models.FloatField(null=True)
    received = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "request_id"], name="outcome_once_per_request"
            )
        ]
        indexes = [models.Index(fields=["experiment", "variant"])]

    def __str__(self) -> str:
        return f"{self.request_id} -> {self.variant}"


class MetricBucket(models.Model):
    """Requests, errors and the latency histogram one variant served in one time bucket."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="buckets")
    variant = models.CharField(max_length=63)
    start = models.DateTimeField()
    requests = models.FloatField(default=0)
    errors = models.FloatField(default=0)
    latency_sum = models.FloatField(default=0)
    # Cumulative histogram counts within the bucket: {"0.05": n, ..., "+Inf": n}.
    latency_counts = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "variant", "start"], name="bucket_unique_slot"
            )
        ]
        ordering = ["start"]

    def __str__(self) -> str:
        return f"{self.variant} @ {self.start:%H:%M}"


class PodCounters(models.Model):
    """The last counter values read from one pod, so the next scrape yields deltas."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=63)
    pod = models.CharField(max_length=253)
    uid = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField()
    requests = models.FloatField()
    errors = models.FloatField()
    latency_sum = models.FloatField()
    latency_counts = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "variant", "pod"], name="podcounters_unique_pod"
            )
        ]

    def __str__(self) -> str:
        return f"{self.variant}/{self.pod}"
