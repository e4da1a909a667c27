"""The create form of the experiments list page: the API body, as form fields."""

from django import forms

from .models import Routing
from .validation import GUARDRAIL_ACTIONS, GUARDRAIL_METRICS, METRICS

VARIANT_ROWS = 3


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=63, help_text="names the Ingress or HTTPRoute")
    hypothesis = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    routing = forms.ChoiceField(choices=Routing.choices)
    primary_metric = forms.ChoiceField(choices=[(m, m) for m in METRICS])
    min_samples = forms.IntegerField(min_value=0, initial=100, help_text="per variant")
    min_duration = forms.IntegerField(min_value=0, initial=0, help_text="seconds")
    guardrail_metric = forms.ChoiceField(
        required=False, choices=[("", "none"), *[(m, m) for m in GUARDRAIL_METRICS]]
    )
    guardrail_max_increase = forms.FloatField(
        required=False, min_value=0, help_text="fraction for error_rate, seconds for latency"
    )
    guardrail_action = forms.ChoiceField(
        required=False, choices=[(a, a) for a in GUARDRAIL_ACTIONS]
    )
    control = forms.IntegerField(
        min_value=1, max_value=VARIANT_ROWS, initial=1, help_text="row number of the control"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(1, VARIANT_ROWS + 1):
            required = i <= 2
            self.fields[f"v{i}_name"] = forms.CharField(required=required, label=f"Variant {i}")
            self.fields[f"v{i}_deployment"] = forms.CharField(required=required, label="deployment")
            self.fields[f"v{i}_service"] = forms.CharField(required=required, label="Service")
            self.fields[f"v{i}_weight"] = forms.IntegerField(
                required=required, min_value=0, max_value=100, label="weight %"
            )

    def variant_rows(self) -> list[list]:
        return [
            [self[f"v{i}_{f}"] for f in ("name", "deployment", "service", "weight")]
            for i in range(1, VARIANT_ROWS + 1)
        ]

    def body(self) -> dict:
        data = self.cleaned_data
        variants = []
        for i in range(1, VARIANT_ROWS + 1):
            if not data.get(f"v{i}_name"):
                continue
            variants.append(
                {
                    "name": data[f"v{i}_name"],
                    "deployment": data[f"v{i}_deployment"],
                    "service": data[f"v{i}_service"],
                    "weight": data[f"v{i}_weight"],
                    "control": data["control"] == i,
                }
            )
        guardrails = []
        if data.get("guardrail_metric"):
            guardrails.append(
                {
                    "metric": data["guardrail_metric"],
                    "max_increase": data.get("guardrail_max_increase") or 0,
                    "action": data.get("guardrail_action") or "pause",
                }
            )
        return {
            "name": data["name"],
            "hypothesis": data.get("hypothesis", ""),
            "routing": data["routing"],
            "primary_metric": data["primary_metric"],
            "min_samples": data["min_samples"],
            "min_duration": data["min_duration"],
            "variants": variants,
            "guardrails": guardrails,
        }
