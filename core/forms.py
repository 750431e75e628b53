"""Form helpers shared by the apps."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def apply_validation_error(form: forms.Form, exc: ValidationError, rename: dict[str, str] | None = None) -> None:
    """Attach a service's ``ValidationError`` to the form's fields (unknown fields become form errors)."""
    rename = rename or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = rename.get(field, field)
            form.add_error(target if target in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
    if NON_FIELD_ERRORS in form.errors and not form.errors[NON_FIELD_ERRORS]:
        del form.errors[NON_FIELD_ERRORS]
