"""The OCX adapter: honest capabilities, errors in plain words, and its public market data
against the simulator over HTTP, normalized."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from ocx import errors as ocx_errors
from venues import errors, registry
from venues import ocx as ocx_venue
from venues.base import Kind, Mark, RiskModel


def test_the_registry_knows_ocx_and_its_capabilities() -> None:
    adapter = registry.adapter("ocx")
    caps = adapter.capabilities
    assert adapter.name == "OCX"
    assert caps.kinds == {Kind.PERP, Kind.FUTURE}
    assert caps.time_in_force == {"gtc", "ioc", "fok"}
    assert (caps.post_only, caps.risk_model, caps.mark_feed) == ("flag", RiskModel.REPORTED, "poll")
    assert caps.native_preview and caps.native_cancel_all and caps.native_close
    assert caps.bucket_transfer and caps.account_events
    assert not caps.set_leverage
    assert "ocx" in registry.known()


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (
            ocx_errors.AuthExpiredError("expired", code="SESSION_EXPIRED"),
            errors.AuthExpired,
            "OCX refused the account's credentials: re-link the account.",
        ),
        (
            ocx_errors.ForbiddenError("no", code="INSUFFICIENT_SCOPE"),
            errors.Forbidden,
            "OCX refused the request's signature or permissions: re-link the account.",
        ),
        (
            ocx_errors.DuplicateOrderError("used"),
            errors.Duplicate,
            "OCX already has this order: it was sent before.",
        ),
        (
            ocx_errors.RejectedError("Order requires 5 USDC", code="INSUFFICIENT_MARGIN"),
            errors.Rejected,
            "OCX rejected it: Not enough margin in the perps bucket for this order.",
        ),
        (
            ocx_errors.RejectedError("odd", code="SOMETHING_NEW"),
            errors.Rejected,
            "OCX rejected it: Odd.",
        ),
        (
            ocx_errors.RateLimitedError("slow down", retry_after=1.5),
            errors.RateLimited,
            "OCX is rate-limiting this account: wait a few seconds and try again.",
        ),
        (
            ocx_errors.UnavailableError("down"),
            errors.Unavailable,
            "OCX did not answer; the request may not have arrived. Check the orders page.",
        ),
    ],
)
def test_it_translates_client_errors_into_plain_words(
    exc: ocx_errors.OCXError, kind: type[errors.VenueError], words: str
) -> None:
    translated = ocx_venue.translate(exc)
    assert isinstance(translated, kind)
    assert errors.plain_words(translated) == words


def test_a_rate_limit_keeps_its_retry_after() -> None:
    translated = ocx_venue.translate(ocx_errors.RateLimitedError("x", retry_after=2.5))
    assert isinstance(translated, errors.RateLimited)
    assert translated.retry_after == 2.5


def test_instruments_include_the_dated_future_with_its_expiry(ocx_sim_url: str) -> None:
    endpoints = ocx_venue.endpoints_for_simulator(ocx_sim_url)
    with registry.adapter("ocx").public(endpoints) as session:
        instruments = {i.symbol: i for i in session.instruments()}
        assert {"BTC-PERP", "ETH-PERP", "SOL-PERP"} <= set(instruments)
        (future,) = [i for i in instruments.values() if i.kind is Kind.FUTURE]
        assert future.symbol.startswith("BTC-USDC-")
        markets = session.markets()  # type: ignore[attr-defined]
        expiry = ocx_venue.expiry(future.symbol, markets)
        assert expiry is not None
        assert expiry > datetime.now(UTC)
        assert ocx_venue.expiry(future.symbol) == expiry.replace(hour=0)
        assert instruments["BTC-PERP"].taker_fee == Decimal("0.0005")
        assert instruments["BTC-PERP"].min_order_qty == Decimal("0.0001")


def test_quotes_marks_funding_and_candles_come_back_normalized(ocx_sim_url: str) -> None:
    endpoints = ocx_venue.endpoints_for_simulator(ocx_sim_url)
    now = datetime.now(UTC)
    with registry.adapter("ocx").public(endpoints) as session:
        quote = session.quote("BTC-PERP")
        assert quote.mark_price is not None
        assert quote.funding_rate is not None
        assert abs(quote.funding_rate) < Decimal("0.01")
        assert quote.next_funding_time is not None
        (point,) = session.funding_history("BTC-PERP", now - timedelta(hours=2), now)
        assert point.funding_rate == quote.funding_rate
        candles = session.candles("BTC-PERP", "5", now - timedelta(hours=3), now, 10)
        assert 0 < len(candles) <= 10
        assert all(c.low <= c.close <= c.high for c in candles)
        mark = session.mark("ETH-PERP")
        assert mark.mark_price is not None
        with pytest.raises(errors.NotFound):
            session.quote("NOPE-PERP")


async def test_the_mark_feed_polls_marks_of_watched_markets(ocx_sim_url: str) -> None:
    feed = ocx_venue.OCXMarkFeed(
        ocx_venue.ADAPTER.public(ocx_venue.endpoints(ocx_sim_url)).client, interval=0.05
    )
    feed.watch("SOL-PERP")
    httpx.post(f"{ocx_sim_url}/sim/price", json={"symbol": "SOL-PERP", "mark_price": "151"})

    async def first() -> Mark:
        async for event in feed.events():
            if isinstance(event, Mark):
                return event
        raise AssertionError("the feed ended")

    mark = await asyncio.wait_for(first(), 5)
    assert mark.symbol == "SOL-PERP"
    assert mark.mark_price is not None
    await feed.close()


async def test_the_mark_feed_says_when_polling_fails() -> None:
    feed = ocx_venue.ADAPTER.mark_feed(ocx_venue.endpoints("http://127.0.0.1:9"))
    feed.watch("BTC-PERP")

    async def first() -> object:
        async for event in feed.events():
            return event
        return None

    notice = await asyncio.wait_for(first(), 30)
    assert getattr(notice, "kind", None) == "refused"
    await feed.close()
