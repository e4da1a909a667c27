"""The JSON shapes of the metrics endpoints (responses and the schema), and the query."""

from rest_framework import serializers


class MetricsQuerySerializer(serializers.Serializer):
    window = serializers.CharField(
        required=False,
        default="1h",
        help_text="how far back: a number and m, h or d (15m, 1h, 6h, 24h), at most the "
        "retention (METRICS_RETENTION, 24h by default)",
    )


class MetricSeriesSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="cpu, memory, replicas or autoscaler")
    label = serializers.CharField(
        help_text="a pod's name, total, used, spec/ready (replicas), current/target or "
        "current replicas/desired replicas (autoscaler)"
    )
    unit = serializers.CharField(
        allow_blank=True, help_text="cores, bytes, pods, or what the autoscaler's metric is"
    )
    source = serializers.CharField(help_text='where the numbers come from: "metrics.k8s.io", ...')
    points = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        help_text="[epoch seconds, value] pairs, oldest first; only buckets with a sample",
    )
    newest_sample_at = serializers.FloatField(allow_null=True, help_text="epoch seconds")
    newest_sample_age_seconds = serializers.FloatField(allow_null=True)


class MetricsSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    kind = serializers.ChoiceField(choices=["deployment", "pod", "node"])
    namespace = serializers.CharField(required=False)
    name = serializers.CharField()
    window_seconds = serializers.IntegerField()
    step_seconds = serializers.IntegerField(
        help_text="each point is the mean of the samples in a bucket this long"
    )
    interval_seconds = serializers.IntegerField(help_text="how often the cluster is sampled")
    status = serializers.ChoiceField(
        choices=["ok", "no_metrics_api", "no_samples"],
        help_text="no_metrics_api: the cluster serves no metrics.k8s.io; no_samples: nothing "
        "sampled in the window yet (series is then empty)",
    )
    message = serializers.CharField(allow_blank=True)
    last_cycle_at = serializers.FloatField(
        allow_null=True, help_text="epoch seconds of the cluster's last stored sample"
    )
    last_cycle_seconds = serializers.FloatField(
        allow_null=True, help_text="how long the cluster's last sampling cycle took"
    )
    series = MetricSeriesSerializer(many=True)


class ResourceAmountsSerializer(serializers.Serializer):
    cpu = serializers.FloatField(allow_null=True, help_text="cores")
    memory = serializers.FloatField(allow_null=True, help_text="bytes")
    gpu = serializers.FloatField(allow_null=True, help_text="nvidia.com/gpu")


class NodeCapacitySerializer(serializers.Serializer):
    allocatable = ResourceAmountsSerializer()
    requested = ResourceAmountsSerializer(help_text="the sum of its pods' requests, now")
    source = serializers.CharField()
    as_of = serializers.FloatField(allow_null=True)


class NodeMetricsSerializer(MetricsSerializer):
    capacity = NodeCapacitySerializer(
        allow_null=True, help_text="now, from the node and its pods (null: not readable)"
    )
