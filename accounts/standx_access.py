"""The one place that turns a linked account into a StandX client (and so decrypts).

Only the worker and order submission call :func:`client_for`; pages never decrypt.
"""

from __future__ import annotations

from django.conf import settings

from accounts import credentials, crypto
from accounts.models import CredentialKind, ExchangeAccount
from standx.rest import Credentials, Endpoints, StandXClient
from venues import base as venue
from venues import standx as standx_venue


def default_endpoints() -> Endpoints:
    return Endpoints(
        perps_url=settings.STANDX_PERPS_URL,
        auth_url=settings.STANDX_AUTH_URL,
        ws_url=settings.STANDX_WS_URL,
        ws_api_url=settings.STANDX_WS_API_URL,
    )


def endpoints_for(account: ExchangeAccount) -> Endpoints:
    return standx_venue.client_endpoints(venue_endpoints_for(account))


def public_endpoints() -> venue.Endpoints:
    """The configured StandX, for public market data read by the server."""
    return standx_venue.endpoints(
        settings.STANDX_PERPS_URL,
        settings.STANDX_AUTH_URL,
        settings.STANDX_WS_URL,
        settings.STANDX_WS_API_URL,
    )


def venue_endpoints_for(account: ExchangeAccount) -> venue.Endpoints:
    return venue.Endpoints(dict(account.endpoints))


def credentials_for(account: ExchangeAccount) -> Credentials:
    """Decrypt the account's credentials. Raises ``DecryptionError`` on any mismatch."""
    secrets = credentials.credentials_open(account)
    token = secrets.get(CredentialKind.STANDX_TOKEN)
    if not token:
        raise crypto.DecryptionError("This account's credentials were deleted; re-link it.")
    return Credentials.from_strings(token, secrets.get(CredentialKind.STANDX_SIGNING_KEY))


def client_for(account: ExchangeAccount, **kwargs: object) -> StandXClient:
    return StandXClient(credentials_for(account), endpoints=endpoints_for(account), **kwargs)  # type: ignore[arg-type]
