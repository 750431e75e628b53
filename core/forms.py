"""Form helpers shared by the apps."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def apply_validation_error(
    form: forms.Form, exc: ValidationError, rename: dict[str, str] | None = None, *, only_new: bool = False
) -> None:
    """Attach a service's ``ValidationError`` to the form's fields (unknown fields become form errors). With
    ``only_new`` (a form's ``clean`` asking the service), a field that has an error of its own already keeps just
    that one: the service saw it empty and would only repeat it."""
    rename = rename or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = rename.get(field, field)
            if only_new and target in form.errors:
                continue
            form.add_error(target if target in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
    if NON_FIELD_ERRORS in form.errors and not form.errors[NON_FIELD_ERRORS]:
        del form.errors[NON_FIELD_ERRORS]


class IdInput(forms.TextInput):
    """The input of a filter by a related row's id (``?target=12``) on a list page: a short text field where a
    ``<select>`` would list every target or feed (a thousand ``<option>``s rendered on each request). Links from
    other pages fill it in; the page names the chosen row next to it. The API reads the same parameter."""

    input_type = "text"

    def __init__(self, attrs: dict[str, str] | None = None) -> None:
        super().__init__(
            {"inputmode": "numeric", "pattern": "[0-9]*", "size": "8", "autocomplete": "off", **(attrs or {})}
        )

    def format_value(self, value: object) -> str | None:
        # A chosen row (initial data) shows as its id, never as its name.
        return super().format_value(getattr(value, "pk", value))
