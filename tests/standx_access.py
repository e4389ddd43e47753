"""A StandX client for a linked account, for tests that act on the exchange behind the app's
back (the app itself reaches StandX only through ``venues.standx``)."""

from __future__ import annotations

from typing import Any

from accounts.credentials import credentials_open
from accounts.models import ExchangeAccount
from standx.rest import Credentials, StandXClient
from venues import standx as standx_venue
from venues.base import Endpoints


def credentials_for(account: ExchangeAccount) -> Credentials:
    return standx_venue.credentials(credentials_open(account))


def client_for(account: ExchangeAccount, **kwargs: Any) -> StandXClient:
    endpoints = standx_venue.client_endpoints(Endpoints(dict(account.endpoints)))
    return StandXClient(credentials_for(account), endpoints=endpoints, **kwargs)
