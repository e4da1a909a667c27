"""Page forms of the GKE app; the services check the values (and audit refusals)."""

from django import forms

CHANNELS = [
    ("REGULAR", "Regular"),
    ("STABLE", "Stable"),
    ("RAPID", "Rapid"),
    ("EXTENDED", "Extended"),
    ("", "None (static version)"),
]
DRIVERS = [
    ("DEFAULT", "Default"),
    ("LATEST", "Latest"),
    ("INSTALLATION_DISABLED", "Do not install"),
]


class CredentialForm(forms.Form):
    project = forms.CharField(max_length=30, help_text="Google Cloud project id")
    key_file = forms.FileField(
        required=False,
        label="Service-account key (JSON)",
        help_text="Empty: Application Default Credentials (workload identity).",
    )
    endpoint = forms.CharField(
        max_length=300,
        required=False,
        help_text="Empty: Google's API. The local endpoint: http://127.0.0.1:PORT",
    )


class ClusterCreateForm(forms.Form):
    name = forms.CharField(max_length=40)
    location = forms.CharField(
        max_length=63,
        initial="us-central1-a",
        help_text="a zone, or a region for a regional cluster",
    )
    node_count = forms.IntegerField(initial=3, min_value=0, help_text="per zone")
    machine_type = forms.CharField(max_length=63, initial="e2-medium")
    release_channel = forms.ChoiceField(choices=CHANNELS, initial="REGULAR", required=False)
    autoscaling = forms.BooleanField(required=False, label="Autoscale the default pool")
    min_node_count = forms.IntegerField(initial=0, min_value=0, required=False)
    max_node_count = forms.IntegerField(initial=5, min_value=1, required=False)
    workload_identity = forms.BooleanField(required=False, label="Workload identity")


class NodePoolCreateForm(forms.Form):
    name = forms.CharField(max_length=40)
    node_count = forms.IntegerField(initial=1, min_value=0, help_text="per zone")
    machine_type = forms.CharField(max_length=63, initial="n1-standard-8")
    accelerator_type = forms.CharField(
        max_length=63, required=False, help_text="e.g. nvidia-tesla-t4, nvidia-l4; empty: no GPUs"
    )
    accelerator_count = forms.IntegerField(initial=1, min_value=1, max_value=16)
    gpu_driver = forms.ChoiceField(choices=DRIVERS, initial="DEFAULT")
    autoscaling = forms.BooleanField(required=False, label="Autoscale")
    min_node_count = forms.IntegerField(initial=0, min_value=0, required=False)
    max_node_count = forms.IntegerField(initial=3, min_value=1, required=False)


class ResizeForm(forms.Form):
    node_count = forms.IntegerField(min_value=0)


class AutoscalingForm(forms.Form):
    enabled = forms.BooleanField(required=False)
    min_node_count = forms.IntegerField(initial=0, min_value=0, required=False)
    max_node_count = forms.IntegerField(initial=3, min_value=1, required=False)


def autoscaling_of(data: dict) -> dict | None:
    if not data.get("autoscaling"):
        return None
    return {
        "min_node_count": data.get("min_node_count") or 0,
        "max_node_count": data.get("max_node_count"),
    }
