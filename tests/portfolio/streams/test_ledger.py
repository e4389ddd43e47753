"""Streams dropped, gapped and delayed, a worker killed outright: the database still equals
the simulator's ledger for every account, and the dead worker's accounts were taken over."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.utils import timezone

from accounts import services
from accounts.models import ExchangeAccount, User
from exchange_common.ratelimit import NoRateLimit
from portfolio.models import BalanceSnapshot, FundingPayment, Order, Position, StreamLease, Trade
from portfolio.streams import leases
from portfolio.sync import pipeline as sync
from standx import errors
from standx.models import parse_time
from standx.rest import StandXClient
from tests.conftest import market_data_synced, sim_credentials, wait_for
from tests.portfolio.streams.conftest import sim_faults
from tests.standx_access import client_for
from venues import standx as standx_venue

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNTS = 24
NO_LIMIT = NoRateLimit()
SIZES = {"BTC-USD": "0.001", "ETH-USD": "0.01", "SOL-USD": "0.5"}


def linked_accounts(owner: User, sim_url: str, n: int) -> list[ExchangeAccount]:
    endpoints = standx_venue.endpoints_for_simulator(sim_url)
    out = []
    for i in range(n):
        creds = sim_credentials(sim_url, deposit="5000")
        out.append(
            services.account_link_with_token(
                owner=owner,
                label=f"S{i}",
                token=creds["token"],
                signing_key=creds["signing_key"],
                endpoints=endpoints,
            )
        )
    return out


def act(client: StandXClient, sim_url: str, rng: random.Random) -> None:
    """One random thing a trader or the market does."""
    symbol = rng.choice(sorted(SIZES))
    action = rng.choice(["market", "market", "limit", "cancel", "move"])
    if action == "market":
        with contextlib.suppress(errors.BadRequestError):  # e.g. too little margin: nothing
            side = rng.choice(["buy", "sell"])
            client.new_order(symbol=symbol, side=side, order_type="market", qty=SIZES[symbol])
    elif action == "limit":
        mark = client.query_symbol_price(symbol=symbol).mark_price
        assert mark is not None
        away = Decimal(rng.choice(["0.95", "1.05"]))
        price = (mark * away).quantize(Decimal("0.01"))
        side = "buy" if away < 1 else "sell"
        client.new_order(
            symbol=symbol, side=side, order_type="limit", qty=SIZES[symbol], price=price
        )
    elif action == "cancel":
        open_orders = client.query_open_orders().result
        if open_orders:
            client.cancel_order(order_id=rng.choice(open_orders).id)
    else:
        mark = client.query_symbol_price(symbol=symbol).mark_price
        assert mark is not None
        moved = (mark * Decimal(rng.choice(["0.99", "1.01"]))).quantize(Decimal("0.01"))
        body = {"symbol": symbol, "mark_price": str(moved)}
        httpx.post(f"{sim_url}/sim/price", json=body, timeout=10).raise_for_status()


def dispatch_once() -> None:
    """What beat's dispatch and the Celery workers do: sync every account the dispatcher
    offers (the streamed ones only when their reconciliation is owed)."""
    for account_id in sync.due_account_ids(timezone.now(), 100):
        with contextlib.suppress(sync.TransientSyncError):
            sync.account_sync(account_id, limiter=NO_LIMIT)


def differences(account: ExchangeAccount, sim_url: str, client: StandXClient) -> list[str]:
    """What the database holds that the simulator's ledger does not (empty: equal)."""
    book = httpx.get(f"{sim_url}/sim/ledger", params={"address": account.address}).json()
    found = []
    trades = {
        t.exchange_id: (t.symbol, t.side, t.qty, t.price, t.fee_qty, t.pnl)
        for t in Trade.objects.filter(account=account)
    }
    ledger_trades = {
        str(t["id"]): (
            t["symbol"],
            t["side"],
            Decimal(t["qty"]),
            Decimal(t["price"]),
            Decimal(t["fee_qty"]),
            Decimal(t["pnl"]),
        )
        for t in book["trades"]
    }
    if trades != ledger_trades:
        found.append("fills")
    orders = {o.exchange_id: (o.status, o.fill_qty) for o in Order.objects.filter(account=account)}
    ledger_orders = {
        str(o["id"]): ("open" if o["status"] == "new" else o["status"], Decimal(o["fill_qty"]))
        for o in book["orders"]
    }
    if orders != ledger_orders:
        found.append("orders")
    funding = {
        (f.symbol, f.funding_time, f.amount) for f in FundingPayment.objects.filter(account=account)
    }
    ledger_funding = {
        (f["symbol"], parse_time(f["transact_time"]), Decimal(f["qty"])) for f in book["funding"]
    }
    if funding != ledger_funding:
        found.append(f"funding: {funding ^ ledger_funding}")
    positions = {p.symbol: (p.qty, p.entry_price) for p in Position.objects.filter(account=account)}
    held = {p.symbol: (p.qty, p.entry_price) for p in client.query_positions()}
    if positions != held:
        found.append("positions")
    latest = BalanceSnapshot.objects.filter(account=account).order_by("-taken_at").first()
    if latest is None or latest.cash != Decimal(book["balance"]["balance"]):
        found.append("balance")
    return found


def test_the_database_equals_the_ledger_after_faults_and_a_worker_killed_mid_run(
    alice: User, sim_url: str, stream_workers: Callable[..., Any], settings: Any
) -> None:
    # The slow reconciliation, shortened to seconds: funding is rebuilt by the full reads.
    settings.STREAM_RECONCILE_SECONDS = 4.0
    rng = random.Random(21)
    accounts = linked_accounts(alice, sim_url, ACCOUNTS)
    market_data_synced(sim_url)
    first = stream_workers()
    wait_for(
        lambda: StreamLease.objects.filter(connected_at__isnull=False).count() == ACCOUNTS,
        timeout=30,
    )
    clients = {a.pk: client_for(a, rate_limiter=NO_LIMIT) for a in accounts}
    for client in clients.values():
        client.__enter__()
    faults: list[dict[str, Any]] = [
        {"endpoint": "ws-stream", "stream_gap_rate": 0.2},
        {"endpoint": "ws-stream", "stream_delay_ms": 400},
        {"drop_ws": True},
    ]
    try:
        for round_no in range(6):
            with sim_faults(sim_url, *([faults[round_no]] if round_no < len(faults) else [])):
                for account in rng.sample(accounts, k=ACCOUNTS // 2):
                    act(clients[account.pk], sim_url, rng)
                if round_no == 3:
                    # Outright, mid-run: its accounts go to the second worker once the leases lapse.
                    stream_workers()
                    os.killpg(first.pid, signal.SIGKILL)
                    first.wait(timeout=10)
                if round_no == 4:
                    httpx.post(f"{sim_url}/sim/funding", json={"rate": "0.0001"}, timeout=10)
                dispatch_once()
        deadline = time.monotonic() + 40
        while True:
            market_data_synced(sim_url)  # the funding rates, as beat's market sync stores them
            dispatch_once()
            unequal = {a.label: differences(a, sim_url, clients[a.pk]) for a in accounts}
            unequal = {label: what for label, what in unequal.items() if what}
            if not unequal or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert unequal == {}
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
    [survivor] = leases.workers_alive(timezone.now())
    assert survivor.accounts == ACCOUNTS
    assert set(StreamLease.objects.values_list("holder", flat=True)) == {survivor.name}
