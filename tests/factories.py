"""Linked accounts made directly in the database, for tests that need no exchange behind them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from accounts import credentials
from accounts.models import Credential, CredentialKind, ExchangeAccount, User
from portfolio.models import MarketSymbol
from venues import standx as standx_venue

# Looks like a stored ciphertext; nothing can decrypt it (tests that never call the exchange).
UNREADABLE = "v1.test.not-a-real-ciphertext"


def make_account(
    owner: User,
    label: str = "Main",
    identity: str = "0xa",
    *,
    url: str = "http://x",
    mode: str = "read_only",
    token: str | None = UNREADABLE,
    expires_at: datetime | None = None,
    **fields: Any,
) -> ExchangeAccount:
    """A StandX account on ``url`` with a token credential (unreadable unless ``token`` is real)."""
    ws = url.replace("http", "ws", 1)
    endpoints = standx_venue.endpoints(url, url, ws, ws)
    account = ExchangeAccount.objects.create(
        owner=owner,
        label=label,
        chain="bsc",
        identity=identity,
        endpoints=dict(endpoints.urls),
        origin=endpoints.origin,
        mode=mode,
        credential_expires_at=expires_at,
        **fields,
    )
    if token == UNREADABLE:
        kind = CredentialKind.STANDX_TOKEN
        Credential.objects.create(
            account=account,
            kind=kind,
            secret_encrypted=UNREADABLE,
            aad=credentials.credential_aad(account, kind),
            scopes=["read"],
            expires_at=expires_at,
        )
    elif token is not None:
        credentials.credential_seal(
            account, CredentialKind.STANDX_TOKEN, token, scopes=["read"], expires_at=expires_at
        )
    return account


def stored_secret(account: ExchangeAccount, kind: str = CredentialKind.STANDX_TOKEN) -> str:
    """The ciphertext stored for the account's credential of this kind ("" when none)."""
    row = Credential.objects.filter(account=account, kind=kind).first()
    return row.secret_encrypted if row else ""


def replace_secret(account: ExchangeAccount, ciphertext: str, kind: str) -> None:
    Credential.objects.filter(account=account, kind=kind).update(secret_encrypted=ciphertext)


def make_market_symbol(
    venue: str, symbol: str, base_asset: str, *, qty_tick_decimals: int = 3, **fields: Any
) -> MarketSymbol:
    """A listed perp as the market sync stores it: a 4 bps taker fee, its lot the minimum order."""
    values: dict[str, Any] = {
        "quote_asset": "USD",
        "price_tick_decimals": 3,
        "min_order_qty": Decimal(1).scaleb(-qty_tick_decimals),
        "max_order_qty": Decimal(5000),
        "max_leverage": Decimal(20),
        "maker_fee": Decimal("0.0001"),
        "taker_fee": Decimal("0.0004"),
        "price_cap_ratio": Decimal("0.3"),
        "price_floor_ratio": Decimal("0.3"),
        **fields,
    }
    return MarketSymbol.objects.create(
        venue=venue,
        symbol=symbol,
        base_asset=base_asset,
        qty_tick_decimals=qty_tick_decimals,
        **values,
    )
