"""A venue's linking forms: "paste your credentials", built from its adapter's ``link_fields``,
and the two steps of a key-minting wallet sign-in."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from accounts import linking, venue_config
from venues.base import Endpoints

MAX_PASTE = 8192  # longer than any credential; a bigger paste is refused as garbage


class VenueForm(forms.Form):
    """A linking form of one venue: the exchange URL field where custom endpoints are allowed."""

    def __init__(self, venue: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.venue = venue
        if venue_config.custom_endpoints_allowed(venue):
            self.fields["exchange_url"] = forms.CharField(
                required=False,
                max_length=200,
                label="Exchange URL (simulator)",
                help_text="Leave empty for the configured exchange. A simulator's origin, e.g. "
                "http://127.0.0.1:8101, links a simulated account.",
                widget=forms.URLInput(attrs={"placeholder": "empty = the configured exchange"}),
            )

    def clean_exchange_url(self) -> str:
        url: str = (self.cleaned_data.get("exchange_url") or "").strip().rstrip("/")
        if url:
            try:
                URLValidator(schemes=["http", "https"])(url)
            except ValidationError:
                raise ValidationError("Give an http:// or https:// origin.") from None
        return url

    def endpoints(self) -> Endpoints:
        """The configured exchange, or the simulator's origin the form names."""
        return venue_config.endpoints_at(self.venue, self.cleaned_data.get("exchange_url") or "")


class PastedLinkForm(VenueForm):
    label = forms.CharField(
        max_length=80, required=False, help_text="e.g. Main, Bot, Hedge (optional)"
    )

    def __init__(self, venue: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(venue, *args, **kwargs)
        self.link_fields = linking.link_fields(venue)
        exchange = self.fields.pop("exchange_url", None)
        for f in self.link_fields:
            attrs = {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"}
            # A secret is never rendered back into the page.
            widget = forms.PasswordInput(attrs=attrs) if f.secret else forms.TextInput(attrs=attrs)
            self.fields[f.name] = forms.CharField(
                label=f.label,
                required=f.required,
                help_text=f.help_text,
                max_length=MAX_PASTE,
                widget=widget,
            )
        if exchange is not None:  # last on the page
            self.fields["exchange_url"] = exchange

    def pasted(self) -> dict[str, str]:
        """The venue's own fields, as the adapter reads them."""
        return {f.name: self.cleaned_data.get(f.name) or "" for f in self.link_fields}


class MintBeginForm(VenueForm):
    """A wallet sign-in that mints keys, begun: the wallet's address and the chosen mode."""

    address = forms.CharField(max_length=100)
    mode = forms.CharField(max_length=20)


class MintCompleteForm(VenueForm):
    challenge_id = forms.IntegerField(min_value=1)
    signature = forms.CharField(max_length=2000)
    label = forms.CharField(max_length=80, required=False)
