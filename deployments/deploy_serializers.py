"""The JSON shapes of deploying and deleting a model: what the request may carry and what
comes back. The deploy service validates with these very serializers, so the OpenAPI
schema, the API's 400s and the form page's errors are the same rules."""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework import serializers

from controlplane.audit.redaction import REDACTED, redact_parameters
from controlplane.audit.serializers import AcceptedSerializer
from controlplane.kube.manifests import GPU_RESOURCE
from controlplane.kube.names import dns1123_label_problem
from controlplane.kube.quantities import parse_quantity

SERVICE_TYPES = ("LoadBalancer", "ClusterIP", "NodePort")
CASCADE_CHOICES = ("services", "autoscaler")
PROPAGATION_CHOICES = ("Background", "Foreground")

# The reference grammar of distribution/reference (what kubelets and registries accept):
# [host[:port]/]path[:tag][@digest], path components lowercase.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_PART = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?)"
IMAGE_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)
IMAGE_MAX = 255
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_RESOURCE_NAME = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
# Ceilings past which a value is a typo, not a plan.
PROBE_SECONDS_MAX = 3600
ENV_MAX = 100


def image_problem(value: str) -> str | None:
    if len(value) > IMAGE_MAX:
        return f"must be no more than {IMAGE_MAX} characters"
    found = IMAGE_REFERENCE.fullmatch(value)
    domain = found.group("domain") if found else None
    # A first part without '.' or ':' (and not localhost) is a path component, not a registry.
    if domain and not ("." in domain or ":" in domain or domain == "localhost"):
        found = found if re.fullmatch(_COMPONENT, domain) else None
    if not found:
        return (
            "not a valid image reference: expected [registry[:port]/]name[:tag][@digest] with a "
            "lowercase name (e.g. 'us-docker.pkg.dev/project/repo/model:1.2')"
        )
    return None


def image_tag(value: str) -> tuple[str | None, bool]:
    """(the tag, whether pinned by digest) of a valid reference."""
    found = IMAGE_REFERENCE.fullmatch(value)
    if not found:
        return None, False
    return found.group("tag"), bool(found.group("digest"))


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: "3", 3.0 and true are refused rather than coerced."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class LabelValueField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 63)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not _LABEL_VALUE.fullmatch(value):
            raise serializers.ValidationError(
                "must be a valid label value: alphanumeric characters, '-', '_' or '.', "
                "starting and ending with an alphanumeric character"
            )
        return value


class QuantitiesField(serializers.DictField):
    """{"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": 1}: each a Kubernetes quantity."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.JSONField(), required=False, **kwargs)

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        errors, out = {}, {}
        for key, raw in data.items():
            if not isinstance(key, str) or not _RESOURCE_NAME.fullmatch(key) or len(key) > 253:
                errors[key] = ["not a valid resource name"]
                continue
            if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                errors[key] = [f"not a resource quantity: {raw!r}"]
                continue
            try:
                quantity = parse_quantity(str(raw))
            except ValueError as exc:
                errors[key] = [str(exc)]
                continue
            if quantity < 0:
                errors[key] = ["must not be negative"]
            elif key == GPU_RESOURCE and quantity != quantity.to_integral_value():
                errors[key] = ["GPUs are requested in whole numbers"]
            else:
                out[key] = str(raw)
        if errors:
            raise serializers.ValidationError(errors)
        return out


class ResourcesSerializer(serializers.Serializer):
    requests = QuantitiesField()
    limits = QuantitiesField()

    def validate(self, attrs):
        requests, limits = attrs.get("requests") or {}, attrs.get("limits") or {}
        errors = {}
        for key, value in requests.items():
            if key in limits and parse_quantity(value) > parse_quantity(limits[key]):
                errors[key] = [f"the request {value} exceeds the limit {limits[key]}"]
        gpus = requests.get(GPU_RESOURCE)
        if gpus is not None and (
            GPU_RESOURCE not in limits
            or parse_quantity(gpus) != parse_quantity(limits[GPU_RESOURCE])
        ):
            errors[GPU_RESOURCE] = ["a GPU request must equal its limit (set it in limits)"]
        if errors:
            raise serializers.ValidationError({"requests": errors})
        return attrs


class ProbeSerializer(serializers.Serializer):
    """An HTTP GET probe on the container's port (or `port`)."""

    path = serializers.RegexField(r"^/[^\s]*$", max_length=1024, default="/")
    port = StrictIntegerField(min_value=1, max_value=65535, required=False)
    initial_delay_seconds = StrictIntegerField(min_value=0, max_value=PROBE_SECONDS_MAX, default=0)
    period_seconds = StrictIntegerField(min_value=1, max_value=PROBE_SECONDS_MAX, default=10)
    timeout_seconds = StrictIntegerField(min_value=1, max_value=PROBE_SECONDS_MAX, default=1)
    failure_threshold = StrictIntegerField(min_value=1, max_value=100, default=3)


class ServicePortSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=SERVICE_TYPES, default="LoadBalancer")
    port = StrictIntegerField(min_value=1, max_value=65535, default=80)


class EnvField(serializers.DictField):
    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(allow_blank=True, max_length=32768), **kwargs)

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if len(data) > ENV_MAX:
            raise serializers.ValidationError(f"at most {ENV_MAX} variables")
        errors = {}
        for key in data:
            if not _ENV_NAME.fullmatch(key):
                errors[key] = ["not a valid environment variable name"]
            elif redact_parameters({key: ""})[key] == REDACTED:
                # Plain values are recorded in the audit log; a secret belongs in a Secret.
                errors[key] = [
                    "looks like a secret: plain env values are recorded in the audit log; "
                    "put it in a Kubernetes Secret instead"
                ]
        if errors:
            raise serializers.ValidationError(errors)
        return data


class DeployRequestSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=63, help_text="the Deployment's and its Service's name (a DNS-1123 label)"
    )
    image = serializers.CharField(max_length=IMAGE_MAX, help_text="an image reference")
    replicas = StrictIntegerField(min_value=0, default=1)
    container_port = StrictIntegerField(min_value=1, max_value=65535, default=8080)
    model_name = LabelValueField(help_text="label model.mlcp.io/name")
    model_version = LabelValueField(help_text="label model.mlcp.io/version")
    env = EnvField(required=False, default=dict)
    resources = ResourcesSerializer(required=False)
    accelerator = LabelValueField(
        help_text="GKE accelerator type (e.g. nvidia-tesla-t4): with an nvidia.com/gpu limit, "
        "pods are pinned to nodes labelled cloud.google.com/gke-accelerator=<it>"
    )
    readiness_probe = ProbeSerializer(required=False, allow_null=True)
    liveness_probe = ProbeSerializer(required=False, allow_null=True)
    service = ServicePortSerializer(
        required=False, allow_null=True, help_text="null: no Service; absent: LoadBalancer on 80"
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="true: check and preview (200, with warnings); nothing is created"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["replicas"].validators.append(_max_validator(settings.DEPLOYMENT_MAX_REPLICAS))

    def validate_name(self, value):
        if problem := dns1123_label_problem(value):
            raise serializers.ValidationError(f"{value!r}: {problem}")
        return value

    def validate_image(self, value):
        if problem := image_problem(value):
            raise serializers.ValidationError(problem)
        return value

    def validate(self, attrs):
        if "service" not in attrs:
            attrs["service"] = {"type": "LoadBalancer", "port": 80}
        return attrs


def _max_validator(limit: int):
    from django.core.validators import MaxValueValidator

    return MaxValueValidator(limit, message=f"Ensure this value is less than or equal to {limit}.")


class DeployPreviewSerializer(serializers.Serializer):
    warnings = serializers.ListField(child=serializers.CharField())
    deployment = serializers.DictField(help_text="the Deployment that would be created")
    service = serializers.DictField(allow_null=True, help_text="the Service, if any")


class DeployAcceptedSerializer(AcceptedSerializer):
    warnings = serializers.ListField(
        child=serializers.CharField(), help_text="what the watcher's cache already tells"
    )


class DeleteRequestSerializer(serializers.Serializer):
    """Query parameters (or a JSON body) of DELETE .../deployments/{name}/."""

    cascade = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="comma-separated: 'services' (the Services selecting only this deployment's "
        "pods) and/or 'autoscaler' (HPAs targeting it)",
    )
    propagation = serializers.ChoiceField(
        choices=PROPAGATION_CHOICES,
        default="Background",
        help_text="Foreground: the Deployment disappears after its pods",
    )

    def validate_cascade(self, value):
        parts = value if isinstance(value, list) else [p for p in value.split(",") if p.strip()]
        wanted = [str(p).strip() for p in parts]
        unknown = [p for p in wanted if p not in CASCADE_CHOICES]
        if unknown:
            raise serializers.ValidationError(
                f"unknown {', '.join(unknown)}: choose from {', '.join(CASCADE_CHOICES)}"
            )
        return sorted(set(wanted))


class WarningsSerializer(serializers.Serializer):
    warnings = serializers.ListField(child=serializers.CharField())
    source = serializers.CharField(help_text="where the objects came from: cache or live")
