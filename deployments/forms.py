"""The "Deploy a model" form: flat fields a person fills in, turned into the deploy API's
request body. The rules are the API's (deployments.deploy_serializers); errors come back
under the API's field names and are placed on the matching input here."""

from django import forms

from .deploy_serializers import SERVICE_TYPES

NO_SERVICE = "none"

# API field (dotted, as the deploy service names it) -> form field.
FIELD_FOR_ERROR = {
    "name": "name",
    "image": "image",
    "replicas": "replicas",
    "container_port": "container_port",
    "model_name": "model_name",
    "model_version": "model_version",
    "accelerator": "accelerator",
    "resources.requests.cpu": "cpu_request",
    "resources.requests.memory": "memory_request",
    "resources.limits.cpu": "cpu_limit",
    "resources.limits.memory": "memory_limit",
    "resources.limits.nvidia.com/gpu": "gpus",
    "resources.requests.nvidia.com/gpu": "gpus",
    "readiness_probe.path": "readiness_path",
    "liveness_probe.path": "liveness_path",
    "service.type": "service_type",
    "service.port": "service_port",
}


class DeployForm(forms.Form):
    name = forms.CharField(max_length=63, help_text="the Deployment's and the Service's name")
    model_name = forms.CharField(max_length=63, required=False)
    model_version = forms.CharField(max_length=63, required=False)
    image = forms.CharField(
        max_length=255, help_text="e.g. us-docker.pkg.dev/project/repo/model:1.2"
    )
    replicas = forms.CharField(initial="1")
    container_port = forms.CharField(initial="8080", label="Container port")
    env = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="one NAME=value per line (secrets belong in a Kubernetes Secret)",
    )
    cpu_request = forms.CharField(required=False, label="CPU request", help_text="e.g. 250m")
    memory_request = forms.CharField(required=False, help_text="e.g. 256Mi")
    cpu_limit = forms.CharField(required=False, label="CPU limit")
    memory_limit = forms.CharField(required=False)
    gpus = forms.CharField(required=False, label="GPUs (nvidia.com/gpu)")
    accelerator = forms.CharField(
        required=False, help_text="GKE accelerator type for GPU pods, e.g. nvidia-tesla-t4"
    )
    readiness_path = forms.CharField(required=False, help_text="HTTP path, e.g. /healthz")
    liveness_path = forms.CharField(required=False)
    service_type = forms.ChoiceField(
        choices=[(t, t) for t in SERVICE_TYPES] + [(NO_SERVICE, "No Service")],
        initial="LoadBalancer",
    )
    service_port = forms.CharField(initial="80")

    def clean_env(self):
        env = {}
        for number, line in enumerate(self.cleaned_data["env"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise forms.ValidationError(f"line {number}: expected NAME=value")
            env[key.strip()] = value
        return env

    def spec(self) -> dict:
        """The deploy API's request body (values the API will check, sent as typed)."""
        data = self.cleaned_data
        body = {
            "name": data["name"].strip(),
            "image": data["image"].strip(),
            "replicas": _number(data["replicas"]),
            "container_port": _number(data["container_port"]),
            "env": data["env"],
        }
        for key in ("model_name", "model_version", "accelerator"):
            if data[key].strip():
                body[key] = data[key].strip()
        requests = _present({"cpu": data["cpu_request"], "memory": data["memory_request"]})
        limits = _present(
            {
                "cpu": data["cpu_limit"],
                "memory": data["memory_limit"],
                "nvidia.com/gpu": data["gpus"],
            }
        )
        if requests or limits:
            body["resources"] = {"requests": requests, "limits": limits}
        for key, field in (
            ("readiness_probe", "readiness_path"),
            ("liveness_probe", "liveness_path"),
        ):
            if data[field].strip():
                body[key] = {"path": data[field].strip()}
        if data["service_type"] == NO_SERVICE:
            body["service"] = None
        else:
            body["service"] = {"type": data["service_type"], "port": _number(data["service_port"])}
        return body

    def add_api_errors(self, errors: dict[str, list[str]]) -> None:
        """Place the deploy service's field errors on the inputs they are about."""
        for key, messages in errors.items():
            field = FIELD_FOR_ERROR.get(key)
            if field is None and key.startswith("env."):
                field = "env"
            label = "" if field else f"{key}: "
            for message in messages:
                self.add_error(field, f"{label}{message}")


def _number(raw: str):
    # A non-number goes through as text, so the API refuses it with its own message.
    try:
        return int(raw.strip())
    except (ValueError, AttributeError):
        return raw


def _present(values: dict) -> dict:
    return {key: value.strip() for key, value in values.items() if value and value.strip()}


class DeleteForm(forms.Form):
    """Deleting asks for the name, typed: a slip of the mouse must not remove a model."""

    confirm = forms.CharField(label="Type the deployment's name to confirm", max_length=253)
    services = forms.BooleanField(
        required=False, label="Also delete the Services that select its pods"
    )
    autoscaler = forms.BooleanField(required=False, label="Also delete its autoscaler")
    propagation = forms.ChoiceField(
        choices=[
            ("Background", "Background: remove it now, its pods after"),
            ("Foreground", "Foreground: remove its pods first"),
        ],
        initial="Background",
        required=False,
    )

    def __init__(self, *args, name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = name

    def clean_confirm(self):
        if self.cleaned_data["confirm"].strip() != self.name:
            raise forms.ValidationError(f"Type {self.name} exactly to delete it.")
        return self.cleaned_data["confirm"]

    def options(self) -> dict:
        """The delete API's options."""
        cascade = [part for part in ("services", "autoscaler") if self.cleaned_data[part]]
        propagation = self.cleaned_data["propagation"] or "Background"
        return {"cascade": ",".join(cascade), "propagation": propagation}
