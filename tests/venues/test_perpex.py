"""The PerpEx adapter's public side against its simulator, and its errors in plain words."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jwt
import pytest

from exchange_common.ratelimit import CountingLimiter, NoRateLimit
from perpex import errors as px
from tests.perpex_sim.helpers import SimControl, sim
from venues import perpex as perpex_venue
from venues import registry
from venues.account import AccountRead, OrderRequest, PastedLink, ReadPlan
from venues.base import AccountAdapter, FeedNotice, Kind, Mark, RiskModel
from venues.errors import (
    AuthExpired,
    BadInput,
    Forbidden,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
    plain_words,
)

__all__ = ["sim"]


def test_the_registry_knows_perpex_and_its_honest_capabilities() -> None:
    adapter = registry.adapter("perpex")
    caps = adapter.capabilities
    assert adapter.name == "PerpEx"
    assert (caps.kinds, caps.time_in_force, caps.batch_orders_max) == (
        {Kind.PERP},
        {"gtc", "ioc"},
        10,
    )
    assert caps.risk_model is RiskModel.HYBRID
    assert not (caps.native_preview or caps.native_cancel_all or caps.native_close)
    assert caps.account_events
    key_bucket = adapter.rate_budget.buckets[0]
    assert (key_bucket.scope, key_bucket.capacity, key_bucket.per_second) == ("key", 120, 2.0)


def test_endpoints_come_from_arguments_then_the_environment_then_the_documented_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PERPEX_API_URL", raising=False)
    monkeypatch.delenv("PERPEX_WS_URL", raising=False)
    assert dict(perpex_venue.endpoints().urls) == {
        "api": "https://api.perpex.io",
        "ws": "wss://ws.perpex.io",
    }
    monkeypatch.setenv("PERPEX_API_URL", "https://api.perpex.co/")
    assert perpex_venue.endpoints()["api"] == "https://api.perpex.co"
    assert perpex_venue.endpoints("http://x")["api"] == "http://x"
    assert dict(perpex_venue.endpoints_for_simulator("http://127.0.0.1:8101").urls) == {
        "api": "http://127.0.0.1:8101",
        "ws": "ws://127.0.0.1:8101/ws",
    }


def test_instruments_quotes_marks_and_candles_come_back_normalized(sim: SimControl) -> None:
    endpoints = perpex_venue.endpoints_for_simulator(sim.base_url)
    now = datetime.now(UTC)
    with registry.adapter("perpex").public(endpoints) as session:
        instruments = {i.symbol: i for i in session.instruments()}
        sol = instruments["SOL-USD"]
        assert (sol.kind, sol.price_tick_decimals, sol.qty_tick_decimals, sol.max_leverage) == (
            Kind.PERP,
            2,
            2,
            Decimal(20),
        )
        assert (sol.quote_decimals, sol.enabled) == (6, True)
        quote = session.quote("BTC-USD")
        assert quote.mark_price is not None
        assert quote.funding_rate is not None
        assert session.mark("BTC-USD").mark_price == quote.mark_price
        bars = session.candles("ETH-USD", "5", now - timedelta(hours=2), now, 10)
        assert len(bars) == 10
        assert all(b.low <= b.high for b in bars)
        with pytest.raises(NotFound, match="DOGE-USD is not listed"):
            session.quote("DOGE-USD")


def test_the_funding_history_is_the_last_settlement_each_market_publishes(
    sim: SimControl,
) -> None:
    endpoints = perpex_venue.endpoints_for_simulator(sim.base_url)
    before = datetime.now(UTC) - timedelta(seconds=1)
    sim.price("BTC-USD", "100000")
    sim.call("POST", "/sim/funding", {"symbol": "BTC-USD", "rate": "0.000125"})
    after = datetime.now(UTC) + timedelta(seconds=1)
    with registry.adapter("perpex").public(endpoints) as session:
        [point] = session.funding_history("BTC-USD", before, after)
        assert (point.symbol, point.funding_rate, point.mark_price) == (
            "BTC-USD",
            Decimal("0.000125"),
            Decimal(100000),
        )
        assert before <= point.time <= after
        # Outside the window asked for, nothing.
        assert session.funding_history("BTC-USD", after, after + timedelta(hours=1)) == []


def test_a_failing_venue_raises_the_neutral_transient_error(sim: SimControl) -> None:
    sim.faults(endpoint="markets", error_rate=1.0, status=503)
    endpoints = perpex_venue.endpoints_for_simulator(sim.base_url)
    session = registry.adapter("perpex").public(endpoints, retries=0)
    with session, pytest.raises(Unavailable) as raised:
        session.instruments()
    assert raised.value.transient
    assert plain_words(raised.value).startswith("PerpEx did not answer")


async def test_the_mark_feed_reads_marks_off_the_orderbook_channel(sim: SimControl) -> None:
    feed = registry.adapter("perpex").mark_feed(perpex_venue.endpoints_for_simulator(sim.base_url))
    for symbol in ("BTC-USD", "ETH-USD"):
        feed.watch(symbol)
    sim.price("ETH-USD", "3456.7")
    seen: dict[str, Mark] = {}
    async with asyncio.timeout(10):
        async for event in feed.events():
            if isinstance(event, Mark):
                seen[event.symbol] = event
            if len(seen) == 2:
                break
    await feed.close()
    assert seen["ETH-USD"].mark_price == Decimal("3456.7")


def test_a_feed_of_more_than_ten_symbols_opens_a_second_connection() -> None:
    feed = perpex_venue.PerpExMarkFeed("ws://nowhere.invalid/ws")
    for n in range(12):
        feed.watch(f"S{n}-USD")
    assert [len(s.subscriptions) for s in feed.streams] == [10, 2]


def test_an_orderbook_frame_without_a_mark_gives_its_mid() -> None:
    from perpex.stream import StreamMessage

    message = StreamMessage("orderbook", {"bids": [["99", "1"]], "asks": [["101", "1"]]}, "X")
    assert perpex_venue.parse_mark(message) == Mark("X", Decimal(100), None, None)
    broken = perpex_venue.parse_mark(StreamMessage("orderbook", {"bids": "?"}, "X"))
    assert isinstance(broken, FeedNotice)
    assert broken.kind == "malformed"


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (
            px.InsufficientMarginError("need 5", status=400),
            Rejected,
            "PerpEx rejected it: Not enough free margin for this order.",
        ),
        (
            px.InvalidSymbolError("x", status=400),
            Rejected,
            "PerpEx rejected it: The market is not listed.",
        ),
        (
            px.OrderNotFoundError("x", status=404),
            NotFound,
            "PerpEx does not know it: "
            "No open order has that id: it may have filled or been cancelled.",
        ),
        (
            px.AuthenticationError("expired"),
            AuthExpired,
            "PerpEx refused the account's credentials: re-link the account.",
        ),
        (
            px.ForbiddenError("read-only"),
            Forbidden,
            "PerpEx refused the request's signature or permissions: re-link the account.",
        ),
        (
            px.RateLimitedError("slow", retry_after=3),
            RateLimited,
            "PerpEx is rate-limiting this account: wait a few seconds and try again.",
        ),
        (
            px.ServerError("boom", status=502),
            Unavailable,
            "PerpEx did not answer; the request may not have arrived. Check the orders page.",
        ),
        (
            px.BadResponseError("junk"),
            Unavailable,
            "PerpEx did not answer; the request may not have arrived. Check the orders page.",
        ),
        (
            px.KeyFormatError("The API key is not a JWT."),
            BadInput,
            "PerpEx rejected it: The API key is not a JWT.",
        ),
    ],
)
def test_client_errors_become_venue_errors_in_plain_words(
    exc: px.PerpExError, kind: type[Exception], words: str
) -> None:
    translated = perpex_venue.translate(exc)
    assert isinstance(translated, kind)
    assert plain_words(translated) == words


# --- the account side ----------------------------------------------------------------------


def _session(sim: SimControl, creds: dict[str, Any], counter: CountingLimiter | None = None) -> Any:
    endpoints = perpex_venue.endpoints_for_simulator(sim.base_url)
    secrets = {perpex_venue.BEARER_KIND: creds["api_key"]}
    return perpex_venue.ADAPTER.account(endpoints, secrets, limiter=counter or NoRateLimit())


def _plan(previous: AccountRead | None = None, *, full: bool = False, held: Any = ()) -> ReadPlan:
    p = previous
    return ReadPlan(
        full_due=full or p is None,
        idle=p is not None and not p.positions and not p.open_orders,
        balance_digest=p.balance_digest if p else "",
        activity_digest=p.activity_digest if p else "",
        shape_digest=p.shape_digest if p else "",
        order_cursor=p.order_cursor if p else "",
        fill_cursor=p.fill_cursor if p else "",
        held_open_orders=lambda: tuple(o.exchange_id for o in held),
        held_orders=lambda: tuple(held),
    )


def _request(symbol: str, side: str, kind: str, qty: str, **extra: Any) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=side,
        order_type=kind,
        qty=Decimal(qty),
        client_order_id=extra.pop("client_order_id", f"t-{uuid.uuid4().hex[:16]}"),
        **extra,
    )


def test_perpex_accounts_can_be_linked_by_pasting_a_key() -> None:
    adapter = registry.account_adapter("perpex")
    assert isinstance(adapter, AccountAdapter)
    assert isinstance(adapter, PastedLink)
    assert [(f.name, f.secret) for f in adapter.link_fields] == [("api_key", True)]
    assert adapter.planned_requests(full_due=True, idle=False) == 3
    assert adapter.planned_requests(full_due=False, idle=True) == 1


def test_a_full_read_gives_positions_balance_orders_and_fills_as_the_ledger_has_them(
    sim: SimControl,
) -> None:
    creds = sim.account()
    with _session(sim, creds) as session:
        sol = session.place(
            _request(
                "SOL-USD",
                "buy",
                "market",
                "10",
                leverage=10,
                margin_mode="isolated",
                time_in_force="ioc",
            )
        )
        assert sol.accepted is True
        assert sol.order is not None
        assert sol.order.status == "filled"
        btc = session.place(_request("BTC-USD", "buy", "market", "0.01", leverage=5))
        rest = session.place(_request("ETH-USD", "buy", "limit", "0.5", price=Decimal("1000")))
        assert rest.accepted is True
        read = session.read(_plan())
    ledger = sim.ledger(creds["account_id"])
    assert read.full
    positions = {p.symbol: p for p in read.positions}
    assert set(positions) == {"SOL-USD", "BTC-USD"}
    iso = positions["SOL-USD"]
    assert (iso.qty, iso.margin_mode, iso.leverage) == (Decimal(10), "isolated", Decimal(10))
    assert iso.liq_source == "reported"
    assert iso.liq_price is not None
    assert iso.isolated_margin is not None
    assert iso.maint_margin is not None
    assert iso.notional is not None
    # Maintenance = half the initial margin at SOL's 20x: 2.5 % of the notional.
    assert iso.maint_margin == (iso.notional * Decimal("0.025")).quantize(Decimal("0.000001"))
    assert read.balance.cash == Decimal(ledger["balance"])
    assert read.balance.locked > 0  # the resting ETH bid holds margin
    assert [(b.bucket, b.asset) for b in read.buckets] == [("perps", "USDC")]
    assert [o.exchange_id for o in read.open_orders] == [rest.request_id]
    assert {f.exchange_id for f in read.new_fills} == {f["id"] for f in ledger["fills"]}
    fees = {f["id"]: Decimal(f["fee"]) for f in ledger["fills"]}
    assert all(f.fee == fees[f.exchange_id] for f in read.new_fills)
    # The market orders never showed open: their fills tell them.
    by_id = {o.exchange_id: o for o in read.new_orders}
    assert set(by_id) == {sol.request_id, btc.request_id}
    assert by_id[sol.request_id].status == "filled"
    assert by_id[sol.request_id].fill_qty == Decimal(10)
    assert read.fill_cursor.split(":")[0].isdigit()


def test_a_flat_idle_account_costs_one_call_while_its_balance_stands_still(
    sim: SimControl,
) -> None:
    creds = sim.account()
    counter = CountingLimiter(NoRateLimit())
    with _session(sim, creds, counter) as session:
        first = session.read(_plan())
        assert counter.granted == 3  # account, open orders, the (empty) fills
        quiet = session.read(_plan(first))
        assert counter.granted == 4
        assert quiet.quiet
        assert quiet.fill_cursor == first.fill_cursor
        sim.call("POST", "/sim/deposit", {"account": creds["account_id"], "amount": "5"})
        moved = session.read(_plan(quiet))
        assert not moved.quiet
        assert moved.balance.cash == Decimal(10005)


def test_positions_whose_shape_stands_still_cost_one_call_per_read(sim: SimControl) -> None:
    creds = sim.account()
    counter = CountingLimiter(NoRateLimit())
    with _session(sim, creds, counter) as session:
        session.place(_request("BTC-USD", "buy", "market", "0.01", leverage=5))
        first = session.read(_plan())
        before = counter.granted
        sim.price("BTC-USD", str(Decimal(sim.mark("BTC-USD")) * Decimal("1.01")))
        live = session.read(_plan(first))
        assert counter.granted - before == 1
        assert not live.full
        assert live.positions[0].mark_price != first.positions[0].mark_price
        session.place(_request("BTC-USD", "buy", "market", "0.01"))
        traded = session.read(_plan(live))
        assert traded.full
        assert traded.positions[0].qty == Decimal("0.02")
        assert len(traded.new_fills) == 1


def test_orders_that_left_the_book_are_settled_from_their_fills(sim: SimControl) -> None:
    creds = sim.account()
    with _session(sim, creds) as session:
        mark = Decimal(sim.mark("ETH-USD"))
        low = (mark * Decimal("0.9")).quantize(Decimal("0.1"))
        fills_later = session.place(_request("ETH-USD", "buy", "limit", "0.5", price=low))
        cancelled = session.place(_request("ETH-USD", "buy", "limit", "0.3", price=low - 10))
        first = session.read(_plan())
        assert {o.exchange_id for o in first.open_orders} == {
            fills_later.request_id,
            cancelled.request_id,
        }
        session.cancel(cancelled.request_id)
        sim.price("ETH-USD", str(low))  # the resting bid at `low` fills (maker)
        later = session.read(_plan(first, held=first.open_orders))
    settled = {o.exchange_id: o for o in later.refreshed_orders}
    assert settled[fills_later.request_id].status == "filled"
    assert settled[fills_later.request_id].fill_qty == Decimal("0.5")
    assert settled[fills_later.request_id].fill_avg_price == low
    assert settled[fills_later.request_id].qty == Decimal("0.5")
    assert settled[cancelled.request_id].status == "canceled"
    assert settled[cancelled.request_id].fill_qty == 0
    assert not later.new_orders  # no order is invented twice
    ledger = {o["id"]: o for o in sim.ledger(creds["account_id"])["orders"]}
    for order_id, o in settled.items():
        assert ledger[order_id]["status"] == o.status


def test_the_fill_cursor_reads_each_fill_once_across_pages(sim: SimControl) -> None:
    creds = sim.account(deposit="1000000")
    with _session(sim, creds) as session:
        first = session.read(_plan())
        for _ in range(3):
            session.place(_request("SOL-USD", "buy", "market", "1"))
        second = session.read(_plan(first))
        assert len(second.new_fills) == 3
        session.place(_request("SOL-USD", "sell", "market", "1", reduce_only=True))
        third = session.read(_plan(second))
        assert [f.side for f in third.new_fills] == ["sell"]
        again = session.read(_plan(third, full=True))
        assert again.new_fills == []
        assert again.fill_cursor == third.fill_cursor


def test_stops_reduce_only_and_client_ids_travel_with_the_order(sim: SimControl) -> None:
    creds = sim.account()
    with _session(sim, creds) as session:
        session.place(_request("BTC-USD", "buy", "market", "0.02", leverage=5))
        mark = Decimal(sim.mark("BTC-USD"))
        stop_at = (mark * Decimal("0.9")).quantize(Decimal(1))
        stop = session.place(
            _request(
                "BTC-USD",
                "sell",
                "stop",
                "0.02",
                stop_price=stop_at,
                reduce_only=True,
                client_order_id="my-stop-1",
            )
        )
        assert stop.accepted is True
        found = session.order_by_client_id("my-stop-1")
        assert found is not None
        assert (found.status, found.reduce_only, found.order_type) == ("untriggered", True, "stop")
        assert found.price == stop_at
        assert session.order_by_client_id("no-such-client-id") is None
        with pytest.raises(Rejected, match="stop price"):
            session.place(_request("BTC-USD", "sell", "stop", "0.01"))


def test_an_ioc_order_that_cannot_take_is_not_accepted_and_says_why(sim: SimControl) -> None:
    with _session(sim, sim.account()) as session:
        far = (Decimal(sim.mark("ETH-USD")) * Decimal("0.5")).quantize(Decimal("0.1"))
        placed = session.place(
            _request("ETH-USD", "buy", "limit", "0.1", price=far, time_in_force="ioc")
        )
    assert placed.accepted is False
    assert "ioc" in placed.reason


def test_refusals_come_back_in_words_before_or_after_sending(sim: SimControl) -> None:
    with _session(sim, sim.account(deposit="10")) as session:
        with pytest.raises(Rejected) as margin:
            session.place(_request("BTC-USD", "buy", "market", "1", leverage=2))
        assert plain_words(margin.value) == (
            "PerpEx rejected it: Not enough free margin for this order."
        )
        with pytest.raises(Rejected, match="post-only"):
            session.place(
                _request("BTC-USD", "buy", "limit", "1", price=Decimal(1), post_only=True)
            )
        with pytest.raises(Rejected, match="ALO"):
            session.place(
                _request("BTC-USD", "buy", "limit", "1", price=Decimal(1), time_in_force="alo")
            )
        with pytest.raises(Rejected, match="take-profit"):
            session.place(_request("BTC-USD", "buy", "market", "1", tp_price=Decimal(1)))
        with pytest.raises(Rejected, match="order that opens a position"):
            session.set_leverage("BTC-USD", 3)
        with pytest.raises(Rejected, match="margin mode"):
            session.set_margin_mode("BTC-USD", "isolated")
        with pytest.raises(Rejected, match="add margin"):
            session.add_margin("BTC-USD", Decimal(1))
        with pytest.raises(NotFound):
            session.cancel("123456")
        assert session.request_path("place") == "/api/v1/orders"


def test_cancel_many_cancels_each_open_order_and_skips_the_gone(sim: SimControl) -> None:
    creds = sim.account()
    counter = CountingLimiter(NoRateLimit())
    with _session(sim, creds, counter) as session:
        price = (Decimal(sim.mark("SOL-USD")) * Decimal("0.8")).quantize(Decimal("0.01"))
        ids = [
            session.place(_request("SOL-USD", "buy", "limit", "1", price=price)).request_id
            for _ in range(3)
        ]
        session.cancel(ids[0])
        before = counter.granted
        done = session.cancel_many(ids)
        assert counter.granted - before == 3  # PerpEx's batch route places; it cannot cancel
        assert done.split(",") == ids[1:]
        assert session.open_orders() == []


def test_a_read_only_key_reads_but_cannot_place(sim: SimControl) -> None:
    creds = sim.account(permissions=["read"])
    with _session(sim, creds) as session:
        assert session.balance().cash == Decimal(10000)
        with pytest.raises(Forbidden):
            session.place(_request("BTC-USD", "buy", "market", "0.01"))


class Probes:
    """A SignedCheck that records what the adapter told it."""

    def __init__(self) -> None:
        self.told: list[str] = []

    def sending(self, path: str, body: Any) -> None:
        self.told.append("probe")

    def answered(self, ok: bool, words: str) -> None:
        self.told.append("answered" if ok else "refused")


def _link(sim: SimControl, key: str, base_url: str | None = None) -> Any:
    endpoints = perpex_venue.endpoints_for_simulator(base_url or sim.base_url)
    probes = Probes()
    linked = perpex_venue.ADAPTER.link_pasted(endpoints, {"api_key": key}, probes)
    return linked, probes.told


def test_linking_a_trading_key_checks_read_and_trade_and_names_the_account(
    sim: SimControl,
) -> None:
    creds = sim.account()
    linked, probes = _link(sim, "  Bearer " + creds["api_key"] + "\n")
    assert probes == ["probe", "answered"]
    assert linked.identity == creds["account_id"]
    assert linked.can_trade
    assert dict(linked.secrets) == {"perpex_bearer": creds["api_key"]}
    assert dict(linked.scopes) == {"perpex_bearer": ("read", "trade")}
    assert linked.expires_at is not None
    assert abs(linked.expires_at.timestamp() * 1000 - creds["expires_at"]) < 1000
    assert creds["api_key"] not in repr(linked)
    # The probe changed nothing on the account.
    assert sim.ledger(creds["account_id"])["orders"] == []


def test_linking_a_read_only_key_links_read_only(sim: SimControl) -> None:
    linked, _ = _link(sim, sim.account(permissions=["read"], expires_in=None)["api_key"])
    assert not linked.can_trade
    assert dict(linked.scopes) == {"perpex_bearer": ("read",)}
    assert linked.expires_at is None


def test_linking_refuses_expired_malformed_and_foreign_keys(sim: SimControl) -> None:
    expired = sim.account(expires_in=-60)["api_key"]
    with pytest.raises(AuthExpired, match="expired on"):
        _link(sim, expired)
    for garbage in ("", "hello", "a.b.c", "eyJ" + "x" * 50, "\x00\x01", "é.é.é"):
        with pytest.raises(BadInput):
            _link(sim, garbage)
    # A key signed by another PerpEx (another host): this one does not know it.
    foreign = jwt.encode(
        {"sub": "acct-elsewhere", "perms": ["read", "trade"], "exp": 4102444800},
        "another-host-secret-of-32-bytes-at-least",
        algorithm="HS256",
    )
    probes = Probes()
    with pytest.raises(AuthExpired):
        perpex_venue.ADAPTER.link_pasted(
            perpex_venue.endpoints_for_simulator(sim.base_url), {"api_key": foreign}, probes
        )
    assert probes.told == []  # refused before the trade-permission request


def test_the_sync_share_of_a_key_leaves_the_rest_to_trading() -> None:
    import os

    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    whole = perpex_venue.ADAPTER.shared_limiter(client, share="all")
    sync_share = perpex_venue.ADAPTER.shared_limiter(client, share="sync")
    key = f"test-{uuid.uuid4().hex[:8]}"
    granted = 0
    while sync_share.reserve(key) == 0:
        granted += 1
    assert granted == 60  # the sync's burst: its own bucket
    trading = 0
    while whole.reserve(key) == 0:
        trading += 1
    assert 60 <= trading <= 61  # what the sync left of the key's 120 (plus a refill)
    client.delete(f"perpex:rl:acct:{key}", f"perpex:rl:sync:acct:{key}")
