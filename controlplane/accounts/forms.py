from django import forms

from .roles import Role


class RoleGrantForm(forms.Form):
    user = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=Role.choices())
    namespaces = forms.CharField(
        required=False,
        help_text="Comma-separated; leave empty for the whole cluster.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. serving, training"}),
    )
