from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from .roles import Role
from .services import login_failure_record, login_refusal_record
from .throttling import Lockout, client_address, login_lockout


class RoleGrantForm(forms.Form):
    user = forms.CharField(max_length=150, label="Username")
    role = forms.ChoiceField(choices=Role.choices())
    namespaces = forms.CharField(
        required=False,
        help_text="Comma-separated; leave empty for the whole cluster.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. serving, training"}),
    )


class GroupMappingForm(forms.Form):
    group = forms.CharField(max_length=255, label="Provider group")
    role = forms.ChoiceField(choices=Role.choices())
    namespaces = forms.CharField(
        required=False,
        help_text="Comma-separated; leave empty for the whole cluster.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. serving, training"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="mapping", **kwargs)


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    cluster = forms.ChoiceField(
        required=False, label="Role on cluster", help_text="Optional: a first role grant."
    )
    role = forms.ChoiceField(choices=[("", "no role"), *Role.choices()], required=False)
    namespaces = forms.CharField(
        required=False,
        help_text="Comma-separated; leave empty for the whole cluster.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. serving, training"}),
    )

    def __init__(self, *args, clusters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = [("", "none")] + [(c.name, c.label) for c in clusters]


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What it is for, e.g. “deploy script” or “laptop”.",
    )
    lifetime_days = forms.TypedChoiceField(
        coerce=int,
        label="Expires after",
        choices=[(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "a year")],
        initial=90,
    )

    def __init__(self, *args, max_days: int = 365, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["lifetime_days"]
        field.choices = [(days, label) for days, label in field.choices if days <= max_days]


class LoginForm(AuthenticationForm):
    """Django's login form, refusing locked-out users and addresses before it checks the
    password, and counting (and auditing) each failure."""

    lockout: Lockout | None = None

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else "unknown"
        request_id = getattr(self.request, "request_id", None)
        self.lockout = login_lockout(username=username, address=address)
        if self.lockout is not None:
            login_refusal_record(
                username=username, address=address, lockout=self.lockout, request_id=request_id
            )
            raise ValidationError(self.lockout.message, code="locked_out")
        try:
            return super().clean()
        except ValidationError as exc:
            if exc.code == "invalid_login":
                failure = login_failure_record(
                    username=username, address=address, request_id=request_id
                )
                if failure.lockout is not None:
                    self.lockout = failure.lockout
                    raise ValidationError(failure.lockout.message, code="locked_out") from exc
            raise
