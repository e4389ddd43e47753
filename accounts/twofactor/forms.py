from __future__ import annotations

from django import forms


class TotpConfirmForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
        help_text="The 6 digits the app shows for StandX Portfolio.",
    )


class PasskeyNameForm(forms.Form):
    name = forms.CharField(max_length=60, required=False)
