from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts import throttle
from accounts.models import Chain
from standx import errors as standx_errors
from standx import keys as standx_keys


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # Behind a trusted proxy the proxy sets REMOTE_ADDR correctly (see the deployment notes).
    return request.META.get("REMOTE_ADDR")


class LoginForm(AuthenticationForm):
    """The stock form with autocomplete hints and throttling of repeated failures."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})

    def clean(self) -> dict[str, Any]:
        ip, username = client_ip(self.request), self.data.get("username")
        wait = throttle.locked_for(ip, username)
        if wait:
            minutes = max(1, (wait + 59) // 60)
            raise ValidationError(
                f"Too many failed logins. Try again in {minutes} minute{'s' * (minutes != 1)}.",
                code="throttled",
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.record_failure(ip, username)
            raise
        throttle.clear(ip, username)
        return cleaned


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
        try:
            standx_keys.jwt_claims(token)
        except standx_errors.KeyFormatError:
            raise ValidationError(
                "That is not a StandX API token (a JWT: three parts separated by dots)."
            ) from None
        try:
            standx_keys.token_expiry(token)
        except standx_errors.KeyFormatError as exc:
            raise ValidationError(f"That is not a StandX API token: {exc}") from None
        return token

    def clean_signing_key(self) -> str:
        key: str = (self.cleaned_data.get("signing_key") or "").strip()
        if key:
            try:
                standx_keys.parse_signing_key(key)
            except standx_errors.KeyFormatError as exc:
                raise ValidationError(str(exc)) from None
        return key


class WalletBeginForm(ExchangeFieldMixin):
    chain = forms.ChoiceField(choices=Chain.choices)
    address = forms.CharField(max_length=100)


class WalletCompleteForm(ExchangeFieldMixin):
    challenge_id = forms.IntegerField(min_value=1)
    signature = forms.CharField(max_length=2000)
    label = forms.CharField(max_length=80, required=False)
