from django import forms
from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator

from .models import ClusterSource


class KubeconfigTextField(forms.CharField):
    """Pasted YAML; characters YAML refuses (NUL included) are reported once, by the
    kubeconfig check with their line and column, not also by Django's generic validator."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]


class KubeconfigUploadForm(forms.Form):
    """Step 1 of adding a cluster: the kubeconfig, as a file or pasted."""

    file = forms.FileField(required=False, label="Kubeconfig file")
    text = KubeconfigTextField(
        required=False,
        label="…or paste it",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "autocomplete": "off"}),
    )

    def clean(self):
        data = super().clean()
        if self.has_error("file") or self.has_error("text"):
            # That error says what is wrong; "choose a file" would contradict it.
            return data
        upload = data.get("file")
        if upload is not None:
            if upload.size > settings.KUBECONFIG_MAX_BYTES:
                raise forms.ValidationError(
                    {
                        "file": f"The file is {upload.size} bytes; the limit is "
                        f"{settings.KUBECONFIG_MAX_BYTES}."
                    }
                )
            data["raw"] = upload.read(settings.KUBECONFIG_MAX_BYTES + 1)
        elif data.get("text"):
            data["raw"] = data["text"].encode()
        else:
            raise forms.ValidationError("Choose a kubeconfig file or paste one.")
        return data


class KubeconfigSaveForm(forms.Form):
    """Step 2: name the cluster and pick a context, after seeing where it points."""

    staged = forms.CharField(widget=forms.HiddenInput)
    name = forms.SlugField(max_length=63, help_text="Used in URLs, e.g. prod-gke.")
    display_name = forms.CharField(max_length=200, required=False)
    context = forms.ChoiceField(widget=forms.RadioSelect)

    def __init__(self, *args, contexts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["context"].choices = [(c.name, c.name) for c in contexts]


class OtherSourceForm(forms.Form):
    source = forms.ChoiceField(
        choices=[
            (ClusterSource.IN_CLUSTER.value, ClusterSource.IN_CLUSTER.label),
            (ClusterSource.SANDBOX.value, ClusterSource.SANDBOX.label),
        ],
        widget=forms.HiddenInput,
    )
    name = forms.SlugField(max_length=63)
    display_name = forms.CharField(max_length=200, required=False)


class ClusterEditForm(forms.Form):
    display_name = forms.CharField(max_length=200, required=False)
    logs_for_viewers = forms.BooleanField(
        required=False,
        label="Viewers may read pod logs",
        help_text="Unticked: only operators and above read logs on this cluster.",
    )
    file = forms.FileField(
        required=False, label="Replace credentials with a new kubeconfig (optional)"
    )
    context = forms.CharField(
        required=False, help_text="Context in the new kubeconfig (default: its current context)."
    )
