"""The JSON shapes of rollouts: requests (for the schema; the services validate) and the
status, revision and diff bodies, which are the one description pages and the API share."""

from rest_framework import serializers


class RolloutRequestSerializer(serializers.Serializer):
    image = serializers.CharField(
        required=False, help_text="the new image of the deployment's only container"
    )
    containers = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="container name -> new image (instead of image)",
    )
    change_cause = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1024,
        help_text="recorded as the kubernetes.io/change-cause annotation of the new revision",
    )


class RollbackRequestSerializer(serializers.Serializer):
    revision = serializers.IntegerField(
        required=False, min_value=0, help_text="absent or 0: the revision before the current one"
    )


class _Images(serializers.DictField):
    child = serializers.CharField(allow_blank=True)


class ReplicaSetCountsSerializer(serializers.Serializer):
    name = serializers.CharField()
    revision = serializers.IntegerField()
    images = _Images()
    desired = serializers.IntegerField()
    current = serializers.IntegerField()
    ready = serializers.IntegerField()
    available = serializers.IntegerField()


class RolloutPodSerializer(serializers.Serializer):
    name = serializers.CharField()
    replicaset = serializers.CharField(allow_blank=True)
    revision = serializers.IntegerField()
    phase = serializers.CharField(allow_blank=True)
    ready = serializers.BooleanField()
    terminating = serializers.BooleanField()
    reason = serializers.CharField(
        allow_blank=True, help_text="a waiting container's reason, or Unschedulable"
    )
    message = serializers.CharField(allow_blank=True)
    restarts = serializers.IntegerField()
    created = serializers.CharField(allow_null=True)


class StuckReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        help_text="ImagePullBackOff, ErrImagePull, CrashLoopBackOff, Unschedulable, "
        "ProgressDeadlineExceeded, ..."
    )
    message = serializers.CharField(allow_blank=True)
    pods = serializers.ListField(child=serializers.CharField())


class RolloutCountsSerializer(serializers.Serializer):
    desired = serializers.IntegerField()
    current = serializers.IntegerField()
    updated = serializers.IntegerField()
    ready = serializers.IntegerField()
    available = serializers.IntegerField()
    unavailable = serializers.IntegerField()
    surge = serializers.IntegerField(help_text="pods above the desired count")


class RolloutStrategySerializer(serializers.Serializer):
    type = serializers.CharField()
    max_surge = serializers.CharField(allow_blank=True)
    max_unavailable = serializers.CharField(allow_blank=True)


class ConditionSerializer(serializers.Serializer):
    type = serializers.CharField()
    status = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)


class RolloutStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    namespace = serializers.CharField()
    # A plain string in the schema: an enum would collide with the API tokens' "state" enum
    # (drf-spectacular names enums after the field, and the schema must build without warnings).
    state = serializers.CharField(
        help_text="complete | progressing | paused | stuck (with the pod-level reason) | failed"
    )
    reason = serializers.CharField(allow_blank=True, help_text="the first stuck/failed reason")
    message = serializers.CharField(allow_blank=True)
    reasons = StuckReasonSerializer(many=True)
    revision = serializers.IntegerField()
    paused = serializers.BooleanField()
    generation = serializers.IntegerField()
    observed_generation = serializers.IntegerField()
    replicas = RolloutCountsSerializer()
    strategy = RolloutStrategySerializer()
    new_replicaset = ReplicaSetCountsSerializer(allow_null=True)
    old_replicasets = ReplicaSetCountsSerializer(many=True)
    pods = RolloutPodSerializer(many=True)
    conditions = ConditionSerializer(many=True)


class RevisionActionSerializer(serializers.Serializer):
    id = serializers.CharField()
    actor = serializers.CharField(allow_blank=True)
    verb = serializers.CharField()
    finished = serializers.CharField(allow_null=True)


class RevisionSerializer(serializers.Serializer):
    revision = serializers.IntegerField()
    earlier_revisions = serializers.ListField(
        child=serializers.IntegerField(), help_text="numbers this template had before"
    )
    replicaset = serializers.CharField()
    images = _Images()
    change_cause = serializers.CharField(allow_blank=True)
    created = serializers.CharField(allow_null=True)
    current = serializers.BooleanField()
    replicas = serializers.IntegerField()
    action = RevisionActionSerializer(
        allow_null=True, help_text="the action that made it, when it was made here"
    )


class TemplateChangeSerializer(serializers.Serializer):
    path = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class RevisionDiffSerializer(serializers.Serializer):
    from_revision = serializers.IntegerField()
    to_revision = serializers.IntegerField()
    changes = TemplateChangeSerializer(many=True)
