from django import forms


class CodeForm(forms.Form):
    """A six-digit code from the authenticator, or a recovery code."""

    code = forms.CharField(
        max_length=32,
        label="Code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        help_text="The six digits your authenticator app shows, or one of your recovery codes.",
    )
