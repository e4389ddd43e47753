"""Each venue's endpoints as this server is configured, by venue key: the one place on the
Django side that knows which settings name which venue's URLs.

``settings.VENUES`` lists the venues the server offers (linking, price feeds, market data);
a venue listed here but not there is left alone. Linking on another origin (a simulator) is
allowed per venue by its ``<VENUE>_ALLOW_CUSTOM_ENDPOINTS`` setting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.models import ExchangeAccount
from venues import ocx as ocx_venue
from venues import perpex as perpex_venue
from venues import registry
from venues import standx as standx_venue
from venues.base import Endpoints


@dataclass(frozen=True)
class VenueSettings:
    configured: Callable[[], Endpoints]  # the venue's URLs from the settings
    custom_allowed: Callable[[], bool]  # may an account be linked on another origin?
    for_simulator: Callable[[str], Endpoints]  # every URL of a simulator on one origin
    # How long the API keys a wallet sign-in mints live (venues whose sign-in mints keys).
    key_days: Callable[[], int] = lambda: 90


_VENUES: dict[str, VenueSettings] = {
    standx_venue.KEY: VenueSettings(
        configured=lambda: standx_venue.endpoints(
            settings.STANDX_PERPS_URL,
            settings.STANDX_AUTH_URL,
            settings.STANDX_WS_URL,
            settings.STANDX_WS_API_URL,
        ),
        custom_allowed=lambda: bool(settings.STANDX_ALLOW_CUSTOM_ENDPOINTS),
        for_simulator=standx_venue.endpoints_for_simulator,
    ),
    perpex_venue.KEY: VenueSettings(
        configured=lambda: perpex_venue.endpoints(settings.PERPEX_API_URL, settings.PERPEX_WS_URL),
        custom_allowed=lambda: bool(settings.PERPEX_ALLOW_CUSTOM_ENDPOINTS),
        for_simulator=perpex_venue.endpoints_for_simulator,
    ),
    ocx_venue.KEY: VenueSettings(
        configured=lambda: ocx_venue.endpoints(settings.OCX_API_URL),
        custom_allowed=lambda: bool(settings.OCX_ALLOW_CUSTOM_ENDPOINTS),
        for_simulator=ocx_venue.endpoints_for_simulator,
        key_days=lambda: int(settings.OCX_KEY_DAYS),
    ),
}


def offered() -> list[str]:
    """The venues this server offers, in the order ``settings.VENUES`` lists them."""
    unknown = [v for v in settings.VENUES if v not in _VENUES or v not in registry.known()]
    if unknown:
        raise ImproperlyConfigured(
            f"VENUES names {', '.join(unknown)}, which this server cannot configure; "
            f"known: {', '.join(sorted(_VENUES))}."
        )
    return list(settings.VENUES)


def venue_settings(venue: str) -> VenueSettings:
    try:
        return _VENUES[venue]
    except KeyError:
        raise LookupError(f"no configured endpoints for venue {venue!r}") from None


def configured_endpoints(venue: str) -> Endpoints:
    return venue_settings(venue).configured()


def custom_endpoints_allowed(venue: str) -> bool:
    return venue_settings(venue).custom_allowed()


def minted_key_days(venue: str) -> int:
    return venue_settings(venue).key_days()


def endpoints_at(venue: str, url: str) -> Endpoints:
    """The configured endpoints, or, for ``url``, a simulator's on that one origin."""
    config = venue_settings(venue)
    return config.for_simulator(url) if url else config.configured()


def account_endpoints(account: ExchangeAccount) -> Endpoints:
    """The URLs a linked account was linked on (its credentials belong to them)."""
    return Endpoints(dict(account.endpoints))
