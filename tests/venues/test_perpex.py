"""The PerpEx adapter's public side against its simulator, and its errors in plain words."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from perpex import errors as px
from tests.perpex_sim.helpers import SimControl, sim
from venues import perpex as perpex_venue
from venues import registry
from venues.base import FeedNotice, Kind, Mark, RiskModel
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
        assert session.funding_history("BTC-USD", now - timedelta(days=1), now) == []
        bars = session.candles("ETH-USD", "5", now - timedelta(hours=2), now, 10)
        assert len(bars) == 10
        assert all(b.low <= b.high for b in bars)
        with pytest.raises(NotFound, match="DOGE-USD is not listed"):
            session.quote("DOGE-USD")


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
