"""An OCX account through the venue-neutral sync and pages, against the OCX simulator: an
isolated position beside the portfolio one in the same market are two rows, a dated future shows
its expiry, the four wallets with their total are on the accounts page, orders and fills are
stored, and the order form's services place and cancel on OCX."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
import pytest
from django.test import Client

from accounts.models import ExchangeAccount, User
from portfolio.domain import order_rules
from portfolio.market.store import market_sync
from portfolio.models import AuditStatus, BalanceBucket, MarketSymbol, Order, Position, Trade
from portfolio.sync import pipeline as sync
from portfolio.trading import services as trading
from tests.conftest import ocx_linked
from tests.ocx.conftest import sim_control
from venues import ocx as ocx_venue
from venues import registry

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet(ocx_wallet: dict[str, Any]) -> dict[str, Any]:
    return ocx_wallet


@pytest.fixture
def ocx(alice: User, ocx_sim_url: str, wallet: dict[str, Any]) -> ExchangeAccount:
    """Alice's OCX account, linked for trading by her wallet's sign-in; the markets synced."""
    endpoints = ocx_venue.endpoints_for_simulator(ocx_sim_url)
    with registry.adapter("ocx").public(endpoints) as session:
        market_sync(session)
    return ocx_linked(alice, ocx_sim_url, wallet, "trading", "OCX main")


def markets(url: str) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in httpx.get(f"{url}/perps/markets").json()}


def market_buy(url: str, wallet: dict[str, Any], market: str, qty: str, mode: str) -> None:
    response = httpx.post(
        f"{url}/perps/orders",
        json={
            "marketId": market,
            "side": "buy",
            "type": "market",
            "quantity": qty,
            "timeInForce": "ioc",
            "marginMode": mode,
        },
        headers={"Authorization": f"Bearer {wallet['session']}"},
    )
    response.raise_for_status()


def test_an_ocx_account_syncs_both_margin_modes_a_dated_future_and_four_wallets(
    alice: User, ocx: ExchangeAccount, ocx_sim_url: str, wallet: dict[str, Any], client: Client
) -> None:
    (future,) = [i for i, m in markets(ocx_sim_url).items() if m["marketType"] != "perp"]
    market_buy(ocx_sim_url, wallet, "BTC-PERP", "0.01", "cross")
    market_buy(ocx_sim_url, wallet, "BTC-PERP", "0.02", "isolated")
    market_buy(ocx_sim_url, wallet, future, "0.01", "cross")
    sync.account_sync(ocx.pk)

    rows = {(p.symbol, p.position_key): p for p in Position.objects.filter(account=ocx)}
    assert set(rows) == {("BTC-PERP", ""), ("BTC-PERP", "isolated"), (future, "")}
    assert rows[("BTC-PERP", "")].qty == Decimal("0.01")
    assert rows[("BTC-PERP", "")].margin_mode == "portfolio"
    assert rows[("BTC-PERP", "isolated")].qty == Decimal("0.02")
    assert all(p.liq_source == "reported" for p in rows.values())
    ledger = sim_control(ocx_sim_url, "GET", f"/sim/ledger?address={wallet['wallet_address']}")
    assert Trade.objects.filter(account=ocx).count() == len(ledger["fills"]) == 3
    assert Order.objects.filter(account=ocx).count() == len(ledger["orders"]) == 3
    buckets = {b.bucket: b for b in BalanceBucket.objects.filter(account=ocx)}
    assert {"wallet", "perps"} <= set(buckets)
    assert buckets["wallet"].total == Decimal("5000")

    expiry = MarketSymbol.objects.get(venue="ocx", symbol=future).expiry
    assert expiry is not None
    client.force_login(alice)
    positions = client.get("/positions/").content.decode()
    assert f'id="pos-{ocx.pk}-BTC-PERP"' in positions
    assert f'id="pos-{ocx.pk}-BTC-PERP-isolated"' in positions
    assert f"expires {expiry:%Y-%m-%d %H:%M}" in positions
    links = client.get("/accounts/links/").content.decode()
    assert f'data-wallets="{ocx.pk}"' in links
    for name in ("wallet", "perps", "options", "spot"):
        assert f'data-bucket="{name}"' in links
    total = sum((b.usd_value or Decimal(0) for b in buckets.values()), Decimal(0))
    assert f"<strong>{total:,.2f}</strong>" in links


def test_a_position_that_closes_in_one_mode_leaves_the_other_standing(
    ocx: ExchangeAccount, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    market_buy(ocx_sim_url, wallet, "ETH-PERP", "0.1", "cross")
    market_buy(ocx_sim_url, wallet, "ETH-PERP", "0.2", "isolated")
    sync.account_sync(ocx.pk)
    httpx.post(
        f"{ocx_sim_url}/perps/positions/close",
        json={"marketId": "ETH-PERP", "marginMode": "isolated"},
        headers={"Authorization": f"Bearer {wallet['session']}"},
    ).raise_for_status()
    sync.account_sync(ocx.pk, limiter=None)
    (left,) = Position.objects.filter(account=ocx, symbol="ETH-PERP")
    assert (left.position_key, left.qty) == ("", Decimal("0.1"))


def test_the_order_services_place_and_cancel_on_ocx(
    alice: User, ocx: ExchangeAccount, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    market = markets(ocx_sim_url)["BTC-PERP"]
    tick = Decimal(1).scaleb(-int(market["priceDecimals"]))
    price = (Decimal(market["markPrice"]) * Decimal("0.8")).quantize(tick, ROUND_DOWN)
    ticket = order_rules.Ticket(
        symbol="BTC-PERP", side="buy", order_type="limit", qty=Decimal("0.01"), price=price
    )
    cl = trading.new_cl_ord_id()
    placed = trading.order_submit(user_id=alice.pk, account_id=ocx.pk, ticket=ticket, cl_ord_id=cl)
    assert placed.status == AuditStatus.ACCEPTED, placed.result
    assert placed.endpoint == "/perps/orders"
    ledger = sim_control(ocx_sim_url, "GET", f"/sim/ledger?address={wallet['wallet_address']}")
    (order,) = [o for o in ledger["orders"] if o["clientOrderId"] == cl]
    assert order["status"] in ("open", "new")
    cancelled = trading.order_cancel(
        user_id=alice.pk, account_id=ocx.pk, order_id=placed.exchange_order_id
    )
    assert cancelled.status == AuditStatus.DONE, cancelled.result
    ledger = sim_control(ocx_sim_url, "GET", f"/sim/ledger?address={wallet['wallet_address']}")
    (order,) = [o for o in ledger["orders"] if o["clientOrderId"] == cl]
    assert order["status"] in ("canceled", "cancelled")
