"""The launch form: text in, the launch API's body out. It checks nothing the service checks,
so a form and an API client get the same rules and messages (the service's errors are put
back on the form's fields)."""

from django import forms

from .serializers import ACCELERATORS

_INTEGERS = (
    "epochs",
    "batch_size",
    "image_size",
    "gpus",
    "parallelism",
    "completions",
    "backoff_limit",
    "active_deadline_seconds",
    "ttl_seconds_after_finished",
    "parent",
)


def _number(raw: str):
    # A non-number goes through as text, so the service refuses it with its own message.
    text = raw.strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


class LaunchForm(forms.Form):
    name = forms.CharField(required=False, help_text="the Job's name; empty: train-xxxxx")
    image = forms.CharField(help_text="the training image, e.g. registry/pet-unet-trainer:1.0")
    model = forms.ChoiceField(choices=[("unet", "unet"), ("", "(none: args only)")], required=False)
    data_uri = forms.CharField(required=False, label="Data URI", help_text="gs://bucket/pets")
    output_uri = forms.CharField(
        required=False, label="Output URI", help_text="empty: a folder of its own for this run"
    )
    epochs = forms.CharField(required=False)
    batch_size = forms.CharField(required=False)
    image_size = forms.CharField(required=False)
    learning_rate = forms.CharField(required=False)
    args = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="more arguments, one per line",
    )
    resume = forms.BooleanField(
        required=False, initial=True, help_text="--resume: a retried pod continues"
    )
    gpus = forms.CharField(required=False, initial="0", label="GPUs per pod")
    accelerator = forms.ChoiceField(
        choices=[("", "(none)")] + [(a, a) for a in ACCELERATORS], required=False
    )
    cpu = forms.CharField(required=False, label="CPU", help_text="e.g. 2 or 500m")
    memory = forms.CharField(required=False, help_text="e.g. 8Gi")
    parallelism = forms.CharField(required=False, initial="1")
    completions = forms.CharField(required=False, initial="1")
    backoff_limit = forms.CharField(required=False, initial="6", label="backoffLimit")
    active_deadline_seconds = forms.CharField(required=False, label="activeDeadlineSeconds")
    ttl_seconds_after_finished = forms.CharField(required=False, label="ttlSecondsAfterFinished")
    parent = forms.CharField(required=False, widget=forms.HiddenInput)

    def spec(self) -> dict:
        data = self.cleaned_data
        spec: dict = {"resume": bool(data.get("resume"))}
        for key, value in data.items():
            if key == "resume" or value in ("", None):
                continue
            if key == "args":
                spec["args"] = [a.strip() for a in value.splitlines() if a.strip()]
            elif key in _INTEGERS or key == "learning_rate":
                spec[key] = _number(value)
            else:
                spec[key] = value.strip()
        return spec

    def add_api_errors(self, errors: dict) -> None:
        for key, messages in errors.items():
            field = key.split(".", 1)[0]
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


def initial_from(parameters: dict) -> dict:
    """A run's parameters as the form's initial values (clone and edit)."""
    initial = {}
    for key, value in parameters.items():
        if key == "args":
            initial["args"] = "\n".join(value)
        elif key not in ("name", "generate_name", "parent"):
            initial[key] = value
    return initial


def _number(value: str):
    """A form's digits as the JSON integer the API takes; anything else as sent, so the
    service's error names the field."""
    value = value.strip()
    return int(value) if value.isdigit() else value


def deploy_body(post) -> dict:
    """The "Deploy this model" form as the API's body: an existing deployment, or create."""
    if post.get("target") != "new":
        return {"deployment": post.get("deployment", "").strip()}
    create = {
        "name": post.get("name", "").strip(),
        "image": post.get("image", "").strip(),
        "replicas": _number(post.get("replicas") or "1"),
        "container_port": _number(post.get("container_port") or "8080"),
    }
    service_type = post.get("service_type", "LoadBalancer")
    create["service"] = (
        None
        if service_type == "none"
        else {"type": service_type, "port": _number(post.get("service_port") or "80")}
    )
    return {"create": create}
