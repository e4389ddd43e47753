"""Where each venue is reached: the configured exchange (settings) and a linked account's own."""

from __future__ import annotations

from django.conf import settings

from accounts.models import ExchangeAccount
from venues import standx as standx_venue
from venues.base import Endpoints


def configured_endpoints(venue: str) -> Endpoints:
    """The exchange this server links and reads for ``venue``, from the settings."""
    names = settings.VENUE_ENDPOINT_SETTINGS.get(venue)
    if names is None:
        raise LookupError(f"no endpoints configured for venue {venue!r}")
    return Endpoints({name: getattr(settings, setting) for name, setting in names.items()})


def account_endpoints(account: ExchangeAccount) -> Endpoints:
    """The URLs a linked account was linked on (its credentials belong to them)."""
    return Endpoints(dict(account.endpoints))


def standx_endpoints(simulator_url: str = "") -> Endpoints:
    """StandX as configured, or a ``python -m standx_sim`` at ``simulator_url``."""
    if simulator_url:
        return standx_venue.endpoints_for_simulator(simulator_url)
    return configured_endpoints(standx_venue.KEY)
