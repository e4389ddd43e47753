from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import Chain
from venues import standx as standx_venue


class SecretTextarea(forms.Textarea):
    """A textarea that never renders its value back: a pasted token is not echoed into HTML."""

    def format_value(self, value: Any) -> str | None:
        return None


def custom_endpoints_allowed() -> bool:
    return bool(settings.STANDX_ALLOW_CUSTOM_ENDPOINTS)


class ExchangeFieldMixin(forms.Form):
    exchange_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Exchange URL (simulator)",
        help_text="Leave empty for StandX. A `python -m standx_sim` origin, e.g. "
        "http://127.0.0.1:8100, links a simulated account.",
        widget=forms.URLInput(attrs={"placeholder": "empty = StandX"}),
    )

    def clean_exchange_url(self) -> str:
        url: str = (self.cleaned_data.get("exchange_url") or "").strip().rstrip("/")
        if url and not custom_endpoints_allowed():
            raise ValidationError("This server only links accounts on StandX itself.")
        return url


class ImportTokenForm(ExchangeFieldMixin):
    label = forms.CharField(max_length=80, required=False, help_text="e.g. Main, Bot, Hedge")
    token = forms.CharField(
        label="API token",
        # StandX's tokens are well under 2 kB; a pasted page or file is not one.
        max_length=8192,
        widget=SecretTextarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        help_text="From standx.com → Session Management: the token starting with eyJ.",
    )
    signing_key = forms.CharField(
        label="Signing key",
        required=False,
        max_length=400,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="The base58 “Ed25519 Private Key” shown with the token (hex works too). "
        "Leave empty to link read-only.",
    )

    def clean_token(self) -> str:
        token: str = "".join(self.cleaned_data["token"].split())
        if problem := standx_venue.token_format_problem(token):
            raise ValidationError(problem)
        return token

    def clean_signing_key(self) -> str:
        key: str = (self.cleaned_data.get("signing_key") or "").strip()
        if key and (problem := standx_venue.signing_key_format_problem(key)):
            raise ValidationError(problem)
        return key


class WalletBeginForm(ExchangeFieldMixin):
    chain = forms.ChoiceField(choices=Chain.choices)
    address = forms.CharField(max_length=100)


class WalletCompleteForm(ExchangeFieldMixin):
    challenge_id = forms.IntegerField(min_value=1)
    signature = forms.CharField(max_length=2000)
    label = forms.CharField(max_length=80, required=False)
