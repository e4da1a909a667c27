"""What every page form does with a service's refusal."""

from django.core.exceptions import ValidationError


def form_add_errors(form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field where the form has one,
    otherwise as a form-wide error."""
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)
