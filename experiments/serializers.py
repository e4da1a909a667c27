"""Bodies of the experiments API, for the OpenAPI schema and the responses. Requests are
validated by the services (experiments/validation.py), which name each bad field."""

from rest_framework import serializers

from .models import Routing, State
from .validation import GUARDRAIL_ACTIONS, GUARDRAIL_METRICS, METRICS


class VariantSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63, help_text="DNS label; the path /<name>")
    deployment = serializers.CharField(max_length=253)
    service = serializers.CharField(max_length=63)
    port = serializers.IntegerField(
        required=False, min_value=1, max_value=65535, help_text="default: the Service's first"
    )
    weight = serializers.IntegerField(min_value=0, max_value=100, help_text="percent")
    control = serializers.BooleanField(default=False)


class GuardrailSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=GUARDRAIL_METRICS)
    max_increase = serializers.FloatField(
        min_value=0,
        help_text="worsening allowed over control (fraction for error_rate, seconds otherwise)",
    )
    action = serializers.ChoiceField(choices=GUARDRAIL_ACTIONS, default="pause")


class ExperimentRequestSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=63)
    hypothesis = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    routing = serializers.ChoiceField(choices=Routing.choices)
    variants = VariantSerializer(many=True)
    primary_metric = serializers.ChoiceField(choices=list(METRICS), default="conversion")
    guardrails = GuardrailSerializer(many=True, required=False)
    min_samples = serializers.IntegerField(required=False, min_value=0, default=100)
    min_duration = serializers.IntegerField(
        required=False, min_value=0, default=0, help_text="seconds"
    )


class TimelineSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    state = serializers.ChoiceField(choices=State.choices)
    weights = serializers.DictField(child=serializers.IntegerField())
    detail = serializers.CharField()
    actor = serializers.CharField()
    action_id = serializers.UUIDField(allow_null=True)


class VariantStateSerializer(VariantSerializer):
    port = serializers.IntegerField()


class ExperimentSerializer(serializers.Serializer):
    name = serializers.CharField()
    cluster = serializers.CharField()
    namespace = serializers.CharField()
    hypothesis = serializers.CharField()
    routing = serializers.ChoiceField(choices=Routing.choices)
    routing_object = serializers.CharField(help_text="Kind/name of the object in the cluster")
    state = serializers.ChoiceField(choices=State.choices)
    primary_metric = serializers.CharField()
    guardrails = GuardrailSerializer(many=True)
    min_samples = serializers.IntegerField()
    min_duration = serializers.IntegerField()
    winner = serializers.CharField()
    promotion = serializers.CharField()
    variants = VariantStateSerializer(many=True)
    traffic = serializers.DictField(
        child=serializers.IntegerField(), help_text="percent each variant gets now"
    )
    guardrail_status = serializers.JSONField()
    timeline = TimelineSerializer(many=True)
    created_by = serializers.CharField()
    created = serializers.DateTimeField()
    started = serializers.DateTimeField(allow_null=True)
    ended = serializers.DateTimeField(allow_null=True)
    last_collected = serializers.DateTimeField(allow_null=True)
    collection_error = serializers.CharField()


class WeightsSerializer(serializers.Serializer):
    weights = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=100),
        help_text="variant name -> percent, every variant, summing to 100",
    )


class ConcludeSerializer(serializers.Serializer):
    winner = serializers.CharField()
    promotion = serializers.ChoiceField(
        choices=["route", "rollout"],
        default="route",
        help_text="route: all traffic to the winner; rollout: roll its image out to the "
        "control's deployment, then all traffic to control",
    )


class FeedbackSerializer(serializers.Serializer):
    request_id = serializers.CharField(max_length=200, help_text="idempotency key")
    variant = serializers.CharField()
    converted = serializers.BooleanField(required=False, allow_null=True)
    value = serializers.FloatField(required=False, allow_null=True)


class FeedbackCsvSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV: request_id,variant,converted,value")


class ComparisonSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    primary = serializers.BooleanField()
    treatment = serializers.CharField()
    control = serializers.CharField()
    n_control = serializers.IntegerField(help_text="outcomes or requests")
    n_treatment = serializers.IntegerField()
    enough_data = serializers.BooleanField(help_text="false: the minimum-data gate holds it")
    gate = serializers.CharField(help_text="what is missing, when not enough data")
    control_value = serializers.FloatField(allow_null=True)
    treatment_value = serializers.FloatField(allow_null=True)
    abs_lift = serializers.FloatField(allow_null=True)
    abs_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    rel_lift = serializers.FloatField(allow_null=True)
    rel_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    p_adjusted = serializers.FloatField(allow_null=True, help_text="Holm-adjusted")
    sequential_p = serializers.FloatField(allow_null=True, help_text="always-valid (mSPRT)")
    significant = serializers.BooleanField()
    sequential_significant = serializers.BooleanField()
    sentence = serializers.CharField()


class GuardrailResultSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    treatment = serializers.CharField()
    control = serializers.CharField()
    max_increase = serializers.FloatField()
    action = serializers.CharField()
    control_value = serializers.FloatField(allow_null=True)
    treatment_value = serializers.FloatField(allow_null=True)
    increase = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True, help_text="one-sided, worse beyond margin")
    enough_data = serializers.BooleanField()
    breached = serializers.BooleanField()
    sentence = serializers.CharField()


class SrmSerializer(serializers.Serializer):
    source = serializers.CharField()
    observed = serializers.DictField(child=serializers.IntegerField())
    expected = serializers.DictField(child=serializers.FloatField())
    p_value = serializers.FloatField()
    threshold = serializers.FloatField()
    flagged = serializers.BooleanField()
    sentence = serializers.CharField()


class CorrectionSerializer(serializers.Serializer):
    method = serializers.CharField()
    comparisons = serializers.IntegerField()
    statement = serializers.CharField()


class ResultsSerializer(serializers.Serializer):
    experiment = serializers.CharField()
    state = serializers.CharField()
    primary_metric = serializers.CharField()
    alpha = serializers.FloatField()
    generated = serializers.DateTimeField()
    running_seconds = serializers.FloatField()
    comparisons = ComparisonSerializer(many=True)
    correction = CorrectionSerializer()
    srm = SrmSerializer()
    guardrails = GuardrailResultSerializer(many=True)
    lift_series = serializers.JSONField(help_text="treatment -> cumulative relative lift per look")
    variant_series = serializers.JSONField(help_text="variant -> per-bucket requests, errors, p95")
