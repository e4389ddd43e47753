"""The sync service against a real simulator: the database must equal the exchange's ledger."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.utils import timezone

from accounts import credentials
from accounts.models import CredentialKind, ExchangeAccount
from exchange_common.ratelimit import CountingLimiter, NoRateLimit
from portfolio.models import BalanceSnapshot, Order, Position, PositionSnapshot, SyncState, Trade
from portfolio.sync import pipeline as sync
from standx.rest import StandXClient
from tests.conftest import wait_for
from tests.factories import replace_secret, stored_secret
from tests.standx_access import client_for
from venues import standx as standx_venue
from venues.account import AccountRead

pytestmark = pytest.mark.django_db

NO_LIMIT = NoRateLimit()


def trader(account: ExchangeAccount) -> StandXClient:
    return client_for(account, rate_limiter=NO_LIMIT)


def ledger(sim_url: str, address: str) -> dict[str, Any]:
    return dict(httpx.get(f"{sim_url}/sim/ledger", params={"address": address}).json())


def place_some_orders(client: StandXClient) -> None:
    client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
    client.new_order(symbol="SOL-USD", side="sell", order_type="market", qty="2")
    mark = client.query_symbol_price(symbol="ETH-USD").mark_price
    assert mark is not None
    client.new_order(
        symbol="ETH-USD",
        side="buy",
        order_type="limit",
        qty="0.1",
        price=(mark * Decimal("0.9")).quantize(Decimal("0.01")),
    )
    wait_for(lambda: len(client.query_positions()) == 2, timeout=10)


def buy_btc(account: ExchangeAccount) -> None:
    with trader(account) as client:
        client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
        wait_for(client.query_positions, timeout=10)


def assert_matches_ledger(account: ExchangeAccount, sim_url: str) -> None:
    book = ledger(sim_url, account.address)
    stored_trades = {
        t.exchange_id: (t.qty, t.price, t.fee_qty, t.pnl)
        for t in Trade.objects.filter(account=account)
    }
    ledger_trades = {
        str(t["id"]): (
            Decimal(t["qty"]),
            Decimal(t["price"]),
            Decimal(t["fee_qty"]),
            Decimal(t["pnl"]),
        )
        for t in book["trades"]
    }
    assert stored_trades == ledger_trades
    stored_orders = {o.exchange_id: o.status for o in Order.objects.filter(account=account)}
    ledger_orders = {
        str(o["id"]): ("open" if o["status"] == "new" else o["status"]) for o in book["orders"]
    }
    assert stored_orders == ledger_orders
    latest = BalanceSnapshot.objects.filter(account=account).latest("taken_at")
    assert latest.cash == Decimal(book["balance"]["balance"])
    assert Decimal(latest.raw["balance"]) == Decimal(book["balance"]["balance"])  # StandX's own


def test_a_sync_stores_what_the_exchange_recorded(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    with trader(alice_linked) as client:
        place_some_orders(client)
    assert sync.account_sync(alice_linked.pk, limiter=NO_LIMIT) == sync.Outcome.SYNCED
    assert_matches_ledger(alice_linked, sim_url)
    positions = {p.symbol: p.qty for p in Position.objects.filter(account=alice_linked)}
    assert positions == {"BTC-USD": Decimal("0.01"), "SOL-USD": Decimal(-2)}
    assert Order.objects.get(account=alice_linked, symbol="ETH-USD").status == "open"
    state = SyncState.objects.get(pk=alice_linked.pk)
    assert state.last_success_at is not None
    assert state.backfill_done
    newest = max(map(int, Trade.objects.values_list("exchange_id", flat=True)))
    assert state.trade_cursor == str(newest)
    assert state.lease_until is None
    # Open orders and positions: polled again within seconds.
    assert state.interval_s <= 3


def test_re_running_a_sync_writes_no_duplicates(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    with trader(alice_linked) as client:
        place_some_orders(client)
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    counts = (Trade.objects.count(), Order.objects.count(), PositionSnapshot.objects.count())
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    assert (Trade.objects.count(), Order.objects.count(), PositionSnapshot.objects.count()) == (
        counts
    )
    # Nothing traded in between: no second balance point within BALANCE_EVERY (10 s).
    assert BalanceSnapshot.objects.filter(account=alice_linked).count() == 1
    assert SyncState.objects.get(pk=alice_linked.pk).last_requests == 3
    assert_matches_ledger(alice_linked, sim_url)


def test_later_activity_is_picked_up_from_the_cursor(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    with trader(alice_linked) as client:
        place_some_orders(client)
        sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
        resting = Order.objects.get(account=alice_linked, symbol="ETH-USD")
        client.cancel_order(order_id=int(resting.exchange_id))
        client.new_order(symbol="BTC-USD", side="sell", order_type="market", qty="0.01")
        wait_for(lambda: len(client.query_positions()) == 1, timeout=10)
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    resting.refresh_from_db()
    assert resting.status == "canceled"
    assert list(Position.objects.filter(account=alice_linked).values_list("symbol", flat=True)) == [
        "SOL-USD"
    ]
    # The closed BTC position left a size-0 snapshot in its history.
    assert PositionSnapshot.objects.filter(symbol="BTC-USD").latest("taken_at").qty == 0
    assert_matches_ledger(alice_linked, sim_url)


def test_a_held_lease_makes_a_second_sync_a_no_op(alice_linked: ExchangeAccount) -> None:
    sync.sync_state_for(alice_linked)
    assert sync.claim_and_load(alice_linked.pk, "other-worker", timezone.now()) is not None
    assert sync.account_sync(alice_linked.pk, limiter=NO_LIMIT) == sync.Outcome.BUSY
    assert not Trade.objects.exists()
    assert not BalanceSnapshot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_racing_workers_end_with_the_same_rows(alice_linked: ExchangeAccount, sim_url: str) -> None:
    with trader(alice_linked) as client:
        place_some_orders(client)
    outcomes: list[sync.Outcome] = []

    def run() -> None:
        from django.db import connection

        try:
            outcomes.append(sync.account_sync(alice_linked.pk, limiter=NO_LIMIT))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sync.Outcome.SYNCED in outcomes
    assert set(outcomes) <= {sync.Outcome.SYNCED, sync.Outcome.BUSY}
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    assert_matches_ledger(alice_linked, sim_url)


def test_a_dead_token_marks_the_account_for_relinking(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    expired = httpx.post(
        f"{sim_url}/sim/token", json={"address": alice_linked.address, "expires_seconds": -60}
    ).json()
    credentials.credential_seal(
        alice_linked, CredentialKind.STANDX_TOKEN, expired["token"], scopes=["read"]
    )
    assert sync.account_sync(alice_linked.pk, limiter=NO_LIMIT) == sync.Outcome.NEEDS_RELINK
    alice_linked.refresh_from_db()
    assert alice_linked.status == "needs_relink"
    assert alice_linked.sync_enabled is False
    # Polling stopped: no account is due.
    assert sync.due_account_ids(timezone.now(), limit=10) == []


def test_credentials_under_a_missing_key_fail_the_sync_until_the_key_is_back(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    stored = stored_secret(alice_linked)
    version, _, ciphertext = stored.split(".")
    replace_secret(alice_linked, f"{version}.retired-key.{ciphertext}", CredentialKind.STANDX_TOKEN)
    assert sync.account_sync(alice_linked.pk, limiter=NO_LIMIT) == sync.Outcome.FAILED
    state = SyncState.objects.get(pk=alice_linked.pk)
    assert state.last_error == (
        "Credentials unreadable: The stored credential was encrypted with a key that is not in "
        "CREDENTIAL_KEYS."
    )
    assert (state.consecutive_failures, state.lease_until, state.last_requests) == (1, None, 0)
    alice_linked.refresh_from_db()
    assert (alice_linked.status, alice_linked.sync_enabled) == ("verified", True)

    # The key is back (CREDENTIAL_KEYS restored): the next attempt syncs.
    replace_secret(alice_linked, stored, CredentialKind.STANDX_TOKEN)
    SyncState.objects.filter(pk=alice_linked.pk).update(next_due_at=timezone.now())
    assert sync.account_sync(alice_linked.pk, limiter=NO_LIMIT) == sync.Outcome.SYNCED
    assert SyncState.objects.get(pk=alice_linked.pk).consecutive_failures == 0
    assert_matches_ledger(alice_linked, sim_url)


@pytest.fixture
def faults(sim_url: str) -> Any:
    yield lambda **rule: httpx.post(f"{sim_url}/sim/faults", json=rule).raise_for_status()
    httpx.delete(f"{sim_url}/sim/faults")


@pytest.mark.parametrize(
    "rule",
    [
        {"endpoint": "query_trades", "error_rate": 1.0, "status": 500},
        {"endpoint": "query_balance", "error_rate": 1.0, "status": 429},
        {"endpoint": "query_open_orders", "malformed_rate": 1.0},
    ],
)
def test_a_failing_poll_never_touches_stored_rows(
    alice_linked: ExchangeAccount, faults: Any, rule: dict[str, Any]
) -> None:
    with trader(alice_linked) as client:
        place_some_orders(client)
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    before = (
        list(Trade.objects.order_by("pk").values()),
        list(Order.objects.order_by("pk").values()),
        list(Position.objects.order_by("pk").values()),
        BalanceSnapshot.objects.count(),
    )
    faults(**rule)
    for attempt in range(sync.STALE_AFTER_FAILURES):
        # A full read each time: the failure lands after some endpoints were already read.
        SyncState.objects.filter(pk=alice_linked.pk).update(
            next_due_at=timezone.now(), last_full_sync_at=None
        )
        with pytest.raises(sync.TransientSyncError):
            sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
        state = SyncState.objects.get(pk=alice_linked.pk)
        assert state.consecutive_failures == attempt + 1
    after = (
        list(Trade.objects.order_by("pk").values()),
        list(Order.objects.order_by("pk").values()),
        list(Position.objects.order_by("pk").values()),
        BalanceSnapshot.objects.count(),
    )
    assert after == before
    assert state.stale is True
    assert state.last_error
    assert state.lease_until is None
    assert state.next_due_at > timezone.now()


@pytest.mark.parametrize(
    ("healths", "open_orders", "expected"),
    [
        (["1.2"], False, 1.0),
        (["2.5", "8"], False, 2.0),
        (["8"], True, 3.0),
        (["8"], False, 10.0),
        ([], False, 60.0),
    ],
)
def test_riskier_accounts_are_polled_more_often(
    healths: list[str], open_orders: bool, expected: float
) -> None:
    from standx.models import Balance
    from standx.models import Order as SxOrder
    from standx.models import Position as SxPosition
    from tests.standx import docs_examples as ex

    def at_health(health: str) -> SxPosition:
        """The docs' isolated BTC long, with the margin that gives it this health; StandX's
        own ``mmr`` field says 99 and is not what decides."""
        base = ex.POSITIONS[0]
        upnl = Decimal(base["qty"]) * (Decimal(base["mark_price"]) - Decimal(base["entry_price"]))
        holding = Decimal(health) * Decimal(base["maint_margin"]) - upnl
        return SxPosition.parse({**base, "holding_margin": str(holding), "mmr": "99"})

    positions = [standx_venue.position(at_health(h)) for h in healths]
    orders = [standx_venue.order(SxOrder.parse(ex.ORDER))] if open_orders else []
    read = AccountRead(positions, standx_venue.balance(Balance.zero()), orders)
    assert sync.poll_interval(read) == expected


def test_due_accounts_come_riskiest_first_and_skip_paused_ones(
    alice_linked: ExchangeAccount, alice: Any, sim_url: str, sim_endpoints: Any
) -> None:
    from accounts import services
    from tests.conftest import sim_credentials

    other = sim_credentials(sim_url)
    risky = services.account_link_with_token(
        owner=alice,
        label="Risky",
        token=other["token"],
        signing_key=None,
        endpoints=sim_endpoints,
    )
    paused = sim_credentials(sim_url)
    quiet = services.account_link_with_token(
        owner=alice,
        label="Paused",
        token=paused["token"],
        signing_key=None,
        endpoints=sim_endpoints,
    )
    services.account_set_sync(account=quiet, enabled=False)
    now = timezone.now()
    assert sorted(sync.due_account_ids(now, limit=10)) == sorted([alice_linked.pk, risky.pk])
    SyncState.objects.filter(pk=risky.pk).update(interval_s=1)
    SyncState.objects.filter(pk=alice_linked.pk).update(interval_s=60)
    assert sync.due_account_ids(now, limit=1) == [risky.pk]


def test_a_quiet_flat_account_costs_one_call_until_its_balance_moves(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    assert sync.account_sync(alice_linked.pk, limiter=NO_LIMIT) == sync.Outcome.SYNCED
    state = SyncState.objects.get(pk=alice_linked.pk)
    assert state.last_requests >= 5  # the first sync reads everything (the backfill)
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    state.refresh_from_db()
    assert state.last_requests == 1
    assert state.interval_s == 60
    assert BalanceSnapshot.objects.filter(account=alice_linked).count() == 1
    # Money arrives: the balance moved, so the full read runs and records it.
    httpx.post(
        f"{sim_url}/sim/deposit", json={"address": alice_linked.address, "amount": "250"}
    ).raise_for_status()
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    state.refresh_from_db()
    assert state.last_requests > 1
    latest = BalanceSnapshot.objects.filter(account=alice_linked).latest("taken_at")
    assert latest.cash == Decimal(10250)


def test_a_steady_account_with_positions_costs_three_calls(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    buy_btc(alice_linked)
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    recorded = CountingLimiter(NO_LIMIT)
    sync.account_sync(alice_linked.pk, limiter=recorded)
    assert SyncState.objects.get(pk=alice_linked.pk).last_requests == 3
    # The three reads were paid for in one reservation (one Redis round trip in production).
    assert (recorded.granted, recorded.reservations) == (3, 1)
    assert_matches_ledger(alice_linked, sim_url)


def calls_after(account: ExchangeAccount, since_full_read: timedelta) -> tuple[int, int]:
    """Syncs ``account`` as if its last full read was that long ago: (calls, reservations)."""
    SyncState.objects.filter(pk=account.pk).update(
        last_full_sync_at=timezone.now() - since_full_read, next_due_at=timezone.now()
    )
    recorded = CountingLimiter(NO_LIMIT)
    assert sync.account_sync(account.pk, limiter=recorded) == sync.Outcome.SYNCED
    return SyncState.objects.get(pk=account.pk).last_requests, recorded.reservations


def test_a_flat_account_rereads_its_history_every_30_minutes(
    alice_linked: ExchangeAccount,
) -> None:
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    assert calls_after(alice_linked, timedelta(minutes=6)) == (1, 1)
    # The full read's five certain calls are paid for at once.
    assert calls_after(alice_linked, timedelta(minutes=31)) == (5, 1)


def test_an_account_with_positions_rereads_its_history_every_5_minutes(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    buy_btc(alice_linked)
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    assert calls_after(alice_linked, timedelta(minutes=4)) == (3, 1)
    assert calls_after(alice_linked, timedelta(minutes=6)) == (5, 1)
    assert_matches_ledger(alice_linked, sim_url)


def test_a_steady_position_follows_the_mark_between_full_reads(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    buy_btc(alice_linked)
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    with trader(alice_linked) as client:
        mark = client.query_symbol_price(symbol="BTC-USD").mark_price
        assert mark is not None
        moved = (mark * Decimal("1.02")).quantize(Decimal("0.01"))
        # The simulator's own price walk is paused, so the mark stays where it is set.
        httpx.post(f"{sim_url}/sim/pause", json={"paused": True}).raise_for_status()
        try:
            httpx.post(
                f"{sim_url}/sim/price", json={"symbol": "BTC-USD", "mark_price": str(moved)}
            ).raise_for_status()
            sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
            [live] = client.query_positions()
        finally:
            httpx.post(f"{sim_url}/sim/pause", json={"paused": False}).raise_for_status()
    stored = Position.objects.get(account=alice_linked, symbol="BTC-USD")
    assert SyncState.objects.get(pk=alice_linked.pk).last_requests == 3  # the live path
    assert stored.mark_price == moved
    assert (stored.upnl, stored.liq_price) == (live.upnl, live.liq_price)
    assert live.mmr is not None
    assert stored.mmr == live.mmr.quantize(Decimal("1e-20"))  # the column's scale


def test_the_dispatcher_stays_within_the_request_budget(
    alice_linked: ExchangeAccount, alice: Any, sim_url: str, sim_endpoints: Any
) -> None:
    from accounts import services
    from tests.conftest import sim_credentials

    others = [
        services.account_link_with_token(
            owner=alice,
            label=f"A{i}",
            token=sim_credentials(sim_url)["token"],
            signing_key=None,
            endpoints=sim_endpoints,
        )
        for i in range(3)
    ]
    now = timezone.now()
    sync.due_account_ids(now, limit=10)  # creates the sync states: none synced yet (5 calls)
    SyncState.objects.filter(pk=others[0].pk).update(backfill_done=True, idle=True, interval_s=0.5)
    SyncState.objects.filter(pk=others[1].pk).update(backfill_done=True, idle=False, interval_s=1)
    picked = sync.due_account_ids(now, limit=10, request_budget=9)
    # The riskiest first (idle: 1 call), then one with positions (3), then a first sync (5).
    assert picked[:2] == [others[0].pk, others[1].pk]
    assert len(picked) == 3


def test_sync_status_shows_backfill_progress(alice_linked: ExchangeAccount) -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sync_status", stdout=out)
    assert "pending" in out.getvalue()
    sync.account_sync(alice_linked.pk, limiter=NO_LIMIT)
    out = StringIO()
    call_command("sync_status", "--user", "alice", stdout=out)
    line = out.getvalue().splitlines()[1]
    assert "Main" in line
    assert "ok" in line
    assert "done: 0t/0o" in line


def test_accounts_near_liquidation_are_marked_urgent(alice_linked: ExchangeAccount) -> None:
    now = timezone.now()
    sync.due_account_ids(now, limit=10)
    SyncState.objects.filter(pk=alice_linked.pk).update(interval_s=1)
    assert sync.due_accounts(now, limit=10) == [(alice_linked.pk, True)]
    SyncState.objects.filter(pk=alice_linked.pk).update(interval_s=10)
    assert sync.due_accounts(now, limit=10) == [(alice_linked.pk, False)]
