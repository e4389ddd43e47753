"""The one place that turns a linked account into a StandX client (and so decrypts).

Only the worker and order submission call :func:`client_for`; pages never decrypt.
"""

from __future__ import annotations

from django.conf import settings

from accounts import crypto
from accounts.models import StandXAccount
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


def endpoints_for(account: StandXAccount) -> Endpoints:
    return Endpoints(
        perps_url=account.perps_url,
        auth_url=account.auth_url,
        ws_url=account.ws_url,
        ws_api_url=account.ws_api_url,
    )


def public_endpoints() -> venue.Endpoints:
    """The configured StandX, for public market data read by the server."""
    return standx_venue.endpoints(
        settings.STANDX_PERPS_URL,
        settings.STANDX_AUTH_URL,
        settings.STANDX_WS_URL,
        settings.STANDX_WS_API_URL,
    )


def venue_endpoints_for(account: StandXAccount) -> venue.Endpoints:
    return standx_venue.endpoints(
        account.perps_url, account.auth_url, account.ws_url, account.ws_api_url
    )


def credentials_for(account: StandXAccount) -> Credentials:
    """Decrypt the account's credentials. Raises ``DecryptionError`` on any mismatch."""
    if not account.token_encrypted:
        raise crypto.DecryptionError("This account's credentials were deleted; re-link it.")
    token = crypto.decrypt(account.token_encrypted, context=account.credential_context("token"))
    key = None
    if account.signing_key_encrypted:
        key = crypto.decrypt(
            account.signing_key_encrypted, context=account.credential_context("signing_key")
        )
    return Credentials.from_strings(token, key)


def client_for(account: StandXAccount, **kwargs: object) -> StandXClient:
    return StandXClient(credentials_for(account), endpoints=endpoints_for(account), **kwargs)  # type: ignore[arg-type]
