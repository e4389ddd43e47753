"""Venue names and the venue picker of the linking pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from accounts import venue_config
from venues import registry
from venues.account import PastedLink, WalletLink

register = template.Library()


@register.filter
def venue_name(key: str) -> str:
    """How the pages name a venue ("perpex" -> "PerpEx"); an unknown key as it is."""
    try:
        return registry.adapter(key).name
    except LookupError:
        return key


def link_url(key: str) -> str:
    """Where an account on this venue is linked: the generic paste form when the venue takes
    pasted credentials only, else the venue's own flows (StandX's wallet and token page)."""
    adapter = registry.adapter(key)
    if isinstance(adapter, PastedLink) and not isinstance(adapter, WalletLink):
        return reverse("link_pasted", args=[key])
    return reverse("link_new")


@register.inclusion_tag("accounts/_venue_picker.html")
def venue_picker(current: str) -> dict[str, Any]:
    venues = [
        {"key": key, "name": venue_name(key), "url": link_url(key), "current": key == current}
        for key in venue_config.offered()
    ]
    return {"venues": venues}
