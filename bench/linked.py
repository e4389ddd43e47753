"""Linked accounts for the benches, written straight to the database (no verification)."""

from __future__ import annotations

from accounts import credentials
from accounts.models import AccountMode, CredentialKind, ExchangeAccount, User
from venues import perpex as perpex_venue
from venues import standx as standx_venue

# Imported inside the benches' functions, after django.setup().


def standx_row(
    owner: User, label: str, identity: str, url: str, **fields: object
) -> ExchangeAccount:
    """An unsaved account on the simulator at ``url`` (for ``bulk_create``)."""
    endpoints = standx_venue.endpoints_for_simulator(url)
    return ExchangeAccount(
        owner=owner,
        label=label,
        chain="bsc",
        identity=identity,
        endpoints=dict(endpoints.urls),
        origin=endpoints.origin,
        **fields,
    )


def standx_linked(
    owner: User, label: str, url: str, sim_account: dict[str, str], *, trading: bool = True
) -> ExchangeAccount:
    """A saved account holding the simulator account's token (and signing key when trading)."""
    mode = AccountMode.TRADING if trading else AccountMode.READ_ONLY
    account = standx_row(owner, label, sim_account["address"], url, mode=mode)
    account.save()
    credentials.credential_seal(
        account, CredentialKind.STANDX_TOKEN, sim_account["token"], scopes=["read"]
    )
    if trading:
        credentials.credential_seal(
            account,
            CredentialKind.STANDX_SIGNING_KEY,
            sim_account["signing_key"],
            scopes=["trade"],
        )
    return account


def perpex_linked(
    owner: User, label: str, url: str, sim_account: dict[str, str]
) -> ExchangeAccount:
    """A saved PerpEx account holding the simulator's API key (read and trade)."""
    endpoints = perpex_venue.endpoints_for_simulator(url)
    account = ExchangeAccount.objects.create(
        owner=owner,
        label=label,
        venue=perpex_venue.KEY,
        identity=sim_account["account_id"],
        endpoints=dict(endpoints.urls),
        origin=endpoints.origin,
        mode=AccountMode.TRADING,
    )
    credentials.credential_seal(
        account, perpex_venue.BEARER_KIND, sim_account["api_key"], scopes=["read", "trade"]
    )
    return account
