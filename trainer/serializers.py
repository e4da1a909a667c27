"""The JSON shapes of launching, cancelling and deploying training runs: what a request may
carry and what comes back. The launch service validates with these very serializers, so the
OpenAPI schema, the API's 400s and the form page's errors are the same rules."""

from __future__ import annotations

import re

from rest_framework import serializers

from controlplane.audit.serializers import AcceptedSerializer
from controlplane.kube.names import dns1123_label_problem
from controlplane.kube.quantities import parse_quantity
from deployments.deploy_serializers import (
    DeployRequestSerializer as ModelDeployRequestSerializer,
)
from deployments.deploy_serializers import LabelValueField, StrictIntegerField, image_problem

# GKE's accelerator types (cloud.google.com/gke-accelerator node label values).
ACCELERATORS = (
    "nvidia-tesla-k80",
    "nvidia-tesla-p4",
    "nvidia-tesla-p100",
    "nvidia-tesla-v100",
    "nvidia-tesla-t4",
    "nvidia-tesla-a100",
    "nvidia-a100-80gb",
    "nvidia-l4",
    "nvidia-h100-80gb",
    "nvidia-h100-mega-80gb",
    "nvidia-h200-141gb",
    "nvidia-b200",
)
PROPAGATIONS = ("Foreground", "Background")
# Past these a value is a typo, not a plan.
ARGS_MAX = 100
ARG_MAX = 4096
GPUS_MAX = 16
PODS_MAX = 100
BACKOFF_LIMIT_MAX = 100
URI_MAX = 1024
# A job name is also the value of the pods' job-name label: a DNS-1123 label, at most 63.
GENERATED_SUFFIX = 5
_URI = re.compile(r"(gs://[a-z0-9][-_.a-z0-9]*[a-z0-9](/\S*)?|file:///\S*|/\S*)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# An option that carries a secret: its value would be stored in the audit log and the Job.
SECRET_OPTION = re.compile(
    r"(?i)^-{1,2}[\w.-]*(token|password|passwd|secret|credential|api[-_]?key)[\w.-]*(=|$)"
)


class QuantityField(serializers.CharField):
    """A Kubernetes quantity greater than zero ("500m", "2", "8Gi")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        value = super().to_internal_value(str(data)).strip()
        if not value:
            return ""
        try:
            quantity = parse_quantity(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        if quantity <= 0:
            raise serializers.ValidationError("must be greater than zero")
        return value


class UriField(serializers.CharField):
    """gs://bucket/path, file:///path or an absolute path inside the container."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", URI_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value and not _URI.fullmatch(value):
            raise serializers.ValidationError(
                "expected gs://bucket/path, file:///path or an absolute path (no spaces)"
            )
        return value


def _count(minimum: int, maximum: int, **kwargs):
    return StrictIntegerField(min_value=minimum, max_value=maximum, **kwargs)


class LaunchRequestSerializer(serializers.Serializer):
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=63, help_text="the Job's name"
    )
    generate_name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=63 - GENERATED_SUFFIX,
        help_text="a prefix; the Job is named prefix + 5 random characters (default 'train-')",
    )
    image = serializers.CharField(max_length=255, help_text="the training image")
    args = serializers.ListField(
        child=serializers.CharField(max_length=ARG_MAX, allow_blank=True, trim_whitespace=False),
        required=False,
        max_length=ARGS_MAX,
        help_text="the program's arguments, as given (the image's entrypoint runs them)",
    )
    model = serializers.ChoiceField(
        choices=["unet"], required=False, help_text="adds --model to args"
    )
    data_uri = UriField(help_text="adds --data URI to args")
    output_uri = UriField(
        help_text="OUTPUT_URI of the container; default TRAINING_OUTPUT_ROOT/<namespace>/<job>"
    )
    epochs = _count(1, 100_000, required=False, help_text="adds --epochs")
    batch_size = _count(1, 65_536, required=False, help_text="adds --batch-size")
    image_size = _count(8, 8192, required=False, help_text="adds --image-size")
    learning_rate = serializers.FloatField(
        required=False, min_value=1e-12, max_value=10.0, help_text="adds --learning-rate"
    )
    resume = serializers.BooleanField(
        required=False,
        default=True,
        help_text="adds --resume, so a retried pod continues from its last checkpoint",
    )
    gpus = _count(0, GPUS_MAX, required=False, default=0, help_text="nvidia.com/gpu per pod")
    accelerator = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=63,
        help_text=f"GKE accelerator type, required with gpus: {', '.join(ACCELERATORS)}",
    )
    cpu = QuantityField(help_text="CPU request per pod, e.g. 2 or 500m")
    memory = QuantityField(help_text="memory request and limit per pod, e.g. 8Gi")
    parallelism = _count(1, PODS_MAX, required=False, default=1)
    completions = _count(1, PODS_MAX, required=False, default=1)
    backoff_limit = _count(0, BACKOFF_LIMIT_MAX, required=False, default=6)
    active_deadline_seconds = _count(1, 10**9, required=False, allow_null=True)
    ttl_seconds_after_finished = _count(0, 10**9, required=False, allow_null=True)
    parent = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="the run this one is a clone of (recorded as its parent)",
    )

    def validate_name(self, value: str) -> str:
        if value and (problem := dns1123_label_problem(value)):
            raise serializers.ValidationError(problem)
        return value

    def validate_generate_name(self, value: str) -> str:
        if value and (problem := dns1123_label_problem(value.rstrip("-") or value)):
            raise serializers.ValidationError(problem)
        return value

    def validate_image(self, value: str) -> str:
        if problem := image_problem(value):
            raise serializers.ValidationError(problem)
        return value

    def validate_args(self, value: list[str]) -> list[str]:
        for index, arg in enumerate(value):
            if _CONTROL.search(arg):
                raise serializers.ValidationError(f"argument {index} contains a control character")
            if SECRET_OPTION.match(arg):
                raise serializers.ValidationError(
                    f"argument {index} ({arg.split('=', 1)[0]}) looks like a secret: arguments "
                    "are recorded in the audit log and the Job; put secrets in a Secret"
                )
        return value

    def validate_accelerator(self, value: str) -> str:
        if value and value not in ACCELERATORS:
            raise serializers.ValidationError(
                f"unknown accelerator type {value!r}; GKE's are: {', '.join(ACCELERATORS)}"
            )
        return value

    def validate(self, attrs):
        errors = {}
        if attrs.get("name") and attrs.get("generate_name"):
            errors["name"] = ["Send either name or generate_name, not both."]
        gpus, accelerator = attrs.get("gpus") or 0, attrs.get("accelerator") or ""
        if gpus and not accelerator:
            errors["accelerator"] = [
                "Required with gpus: the GKE accelerator type the pods must land on."
            ]
        if accelerator and not gpus:
            errors["gpus"] = [f"An accelerator ({accelerator}) needs at least one GPU."]
        if attrs.get("parallelism", 1) > attrs.get("completions", 1):
            errors["parallelism"] = ["Ensure parallelism is not greater than completions."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CancelRequestSerializer(serializers.Serializer):
    propagation = serializers.ChoiceField(
        choices=PROPAGATIONS,
        required=False,
        default="Foreground",
        help_text="Foreground: the Job goes once its pods are gone; Background: at once",
    )


class RerunRequestSerializer(serializers.Serializer):
    resume = serializers.BooleanField(
        required=False,
        default=True,
        help_text="true: same output URI with --resume (continue from the last checkpoint)",
    )


# Set from the run by "Deploy this model"; a create body that sends them is refused.
MODEL_ENV = "MODEL_URI"
_SET_FROM_THE_RUN = {
    "model_version": "send model_version at the top level (default run-<id>)",
    "dry_run": "not here: preview with POST .../deployments/ and dry_run true",
}


class CreateDeploymentSerializer(ModelDeployRequestSerializer):
    """The deploy-a-model body (POST .../deployments/) for a new model deployment serving the
    run's export: the run sets MODEL_URI and the model version."""

    model_version = None
    dry_run = None

    def to_internal_value(self, data):
        # Checked on the raw body: without the fields, the parent would silently drop them.
        sent = data if isinstance(data, dict) else {}
        errors = {key: [why] for key, why in _SET_FROM_THE_RUN.items() if key in sent}
        if isinstance(sent.get("env"), dict) and MODEL_ENV in sent["env"]:
            errors["env"] = {MODEL_ENV: ["set from the run's export; leave it out"]}
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class RunDeployRequestSerializer(serializers.Serializer):
    deployment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=253,
        help_text="an existing model deployment to roll the model out to (or send create)",
    )
    container = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=63,
        help_text="with deployment: the serving container (default: its only container)",
    )
    model_version = LabelValueField(help_text="the version to record (default run-<id>)")
    create = CreateDeploymentSerializer(
        required=False,
        help_text="instead of deployment: create a model deployment (and its Service) serving "
        "the run's model, with the body of POST .../deployments/",
    )

    def validate(self, attrs):
        wanted, create = attrs.get("deployment"), attrs.get("create")
        if wanted and create is not None:
            raise serializers.ValidationError(
                {"deployment": ["Send deployment (an existing one) or create, not both."]}
            )
        if not wanted and create is None:
            raise serializers.ValidationError(
                {"deployment": ["Name an existing model deployment, or send create for a new one."]}
            )
        if create is not None and attrs.get("container"):
            raise serializers.ValidationError(
                {"container": ["Only with deployment: a created deployment has one container."]}
            )
        return attrs


class ProgressSerializer(serializers.Serializer):
    epoch = serializers.IntegerField(allow_null=True)
    epochs = serializers.IntegerField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)
    resumed = serializers.BooleanField()
    history = serializers.ListField(child=serializers.DictField())
    end = serializers.DictField(allow_null=True)


class AttemptsSerializer(serializers.Serializer):
    pods = serializers.IntegerField(help_text="pods created so far")
    failed = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    active = serializers.IntegerField()
    backoff_limit = serializers.IntegerField()
    retries_left = serializers.IntegerField()


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    cluster = serializers.CharField()
    namespace = serializers.CharField()
    job_name = serializers.CharField()
    status = serializers.CharField()
    created = serializers.DateTimeField()
    created_by = serializers.CharField()
    parameters = serializers.DictField()
    output_uri = serializers.CharField()
    parent = serializers.IntegerField(allow_null=True)
    relation = serializers.CharField()
    launch_action = serializers.CharField(allow_null=True)
    started = serializers.DateTimeField(allow_null=True)
    finished = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    gpu_hours = serializers.FloatField(allow_null=True)
    synced = serializers.DateTimeField(allow_null=True)


class RunDetailSerializer(RunSerializer):
    conditions = serializers.ListField(child=serializers.DictField())
    attempts = AttemptsSerializer()
    pods = serializers.ListField(child=serializers.DictField())
    progress = ProgressSerializer()
    metrics = serializers.DictField()
    metrics_file = serializers.DictField(
        help_text="OUTPUT/metrics.json of a succeeded run, where the control plane can read it"
    )
    metrics_file_note = serializers.CharField(help_text="why metrics.json was not read, if not")
    pending_reasons = serializers.ListField(child=serializers.DictField())
    logs = serializers.DictField(child=serializers.CharField(), help_text="pod/container: tail")


class RunAcceptedSerializer(AcceptedSerializer):
    run = serializers.IntegerField(help_text="the training run's id")
    run_url = serializers.CharField()
