"""The WebSocket client against the simulator: channels, the cap, heartbeat, reconnection, and
the liquidation warning before the liquidation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from perpex import errors
from perpex.keys import ApiKey
from perpex.models import (
    Candle,
    Liquidation,
    LiquidationWarning,
    OrderBook,
    PositionSnapshot,
    PositionUpdate,
    parse_position_event,
)
from perpex.rest import OrderRequest, PerpExClient
from perpex.stream import PerpExStream, Reconnected, StreamError, StreamEvent, StreamMessage
from tests.perpex_sim.helpers import SimControl


async def next_message(events: AsyncIterator[StreamEvent], channel: str) -> StreamMessage:
    async with asyncio.timeout(10):
        async for event in events:
            if isinstance(event, StreamMessage) and event.channel == channel:
                return event
    raise AssertionError("the stream ended")


async def reconnections_within(stream: PerpExStream, seconds: float) -> int:
    count = 0
    try:
        async with asyncio.timeout(seconds):
            async for event in stream.events():
                count += isinstance(event, Reconnected)
    except TimeoutError:
        pass
    await stream.close()
    return count


async def test_the_market_channels_stream_books_candles_and_trades(sim: SimControl) -> None:
    stream = PerpExStream(sim.ws_url)
    stream.subscribe("orderbook", "BTC-USD", depth=3)
    stream.subscribe("candles", "BTC-USD", interval="5m")
    events = stream.events()
    book = OrderBook.parse((await next_message(events, "orderbook")).data, "BTC-USD")
    assert len(book.bids) == 3
    assert book.mark_price is not None
    snapshot = await next_message(events, "candles")
    assert snapshot.snapshot
    assert snapshot.interval == "5m"
    candles = [Candle.parse(c) for c in snapshot.data]
    assert len(candles) > 100
    assert all(c.low <= c.high for c in candles)
    await stream.close()


async def test_public_trades_arrive_on_the_trades_channel(
    sim: SimControl, alice: PerpExClient
) -> None:
    stream = PerpExStream(sim.ws_url)
    stream.subscribe("trades", "SOL-USD")
    events = stream.events()
    waiter = asyncio.ensure_future(next_message(events, "trades"))
    await asyncio.sleep(0.3)
    await asyncio.to_thread(alice.place_order, OrderRequest("SOL-USD", "buy", "market", Decimal(1)))
    message = await waiter
    assert message.data[0]["size"] == "1"
    await stream.close()


def test_the_eleventh_subscription_is_refused_by_the_client(sim: SimControl) -> None:
    stream = PerpExStream(sim.ws_url)
    for symbol in ("BTC-USD", "ETH-USD", "SOL-USD", "HYPE-USD"):
        stream.subscribe("trades", symbol)
        stream.subscribe("orderbook", symbol)
    stream.subscribe("candles", "BTC-USD", interval="1m")
    stream.subscribe("candles", "BTC-USD", interval="1h")
    stream.subscribe("candles", "BTC-USD", interval="1h")  # the same one again costs nothing
    with pytest.raises(errors.SubscriptionLimitError, match="at most 10 subscriptions"):
        stream.subscribe("candles", "ETH-USD")
    assert stream.room == 0


async def test_the_server_refuses_an_eleventh_subscription_and_keeps_the_connection(
    sim: SimControl,
) -> None:
    stream = PerpExStream(sim.ws_url, max_subscriptions=11)
    for interval in ("1m", "5m", "15m", "1h", "4h", "1d"):
        stream.subscribe("candles", "ETH-USD", interval=interval)
    for symbol in ("BTC-USD", "ETH-USD", "SOL-USD", "HYPE-USD"):
        stream.subscribe("trades", symbol)
    stream.subscribe("orderbook", "BTC-USD")  # the eleventh
    events = stream.events()
    refusal = None
    async with asyncio.timeout(10):
        while not isinstance(refusal, StreamError):
            refusal = await anext(events)
    assert (refusal.code, str(refusal)) == (
        "SUBSCRIPTION_LIMIT",
        "The PerpEx stream refused a request (SUBSCRIPTION_LIMIT): "
        "at most 10 subscriptions per connection",
    )
    assert await next_message(events, "candles")
    await stream.close()


async def test_it_answers_the_heartbeat_so_the_server_keeps_the_connection(
    sim: SimControl,
) -> None:
    sim.config(heartbeat_s=0.3, pong_timeout_s=0.6)
    async with connect(sim.ws_url) as silent:
        ping = json.loads(await asyncio.wait_for(silent.recv(), 3))
        assert ping["type"] == "ping"
        with pytest.raises(Exception, match="4000"):
            await asyncio.wait_for(silent.recv(), 3)
    stream = PerpExStream(sim.ws_url)
    stream.subscribe("orderbook", "BTC-USD")
    assert await reconnections_within(stream, 2.0) == 0


async def test_after_the_server_drops_it_reconnects_with_backoff_and_resubscribes(
    sim: SimControl,
) -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 3:  # let the server take connections again
            await asyncio.to_thread(httpx.delete, f"{sim.base_url}/sim/faults")

    stream = PerpExStream(sim.ws_url, sleep=sleep, jitter=0)
    stream.subscribe("orderbook", "SOL-USD", depth=1)
    events = stream.events()
    await next_message(events, "orderbook")
    sim.faults(endpoint="ws", ws_refuse_rate=1.0, drop_ws=True)
    async with asyncio.timeout(10):
        async for event in events:
            if isinstance(event, Reconnected):
                break
    assert delays == [1.0, 2.0, 4.0]
    assert (await next_message(events, "orderbook")).symbol == "SOL-USD"
    await stream.close()


def test_the_backoff_doubles_from_one_second_to_thirty() -> None:
    from perpex.stream import backoff

    assert [backoff(n, jitter=0) for n in (1, 2, 3, 5, 6, 20)] == [1, 2, 4, 16, 30, 30]
    assert all(1 <= backoff(1) <= 1.2 for _ in range(50))
    assert all(backoff(9) == 30 for _ in range(50))


async def test_the_positions_channel_warns_before_it_reports_the_liquidation(
    sim: SimControl, client_for: Callable[..., PerpExClient]
) -> None:
    creds = sim.account(deposit="1000")
    bob = client_for(creds)
    sim.price("SOL-USD", "180")
    bob.place_order(
        OrderRequest("SOL-USD", "buy", "market", Decimal(20), leverage=10, margin_mode="isolated")
    )
    (position,) = bob.account().positions
    assert position.liquidation_price is not None
    liq = position.liquidation_price
    stream = PerpExStream(sim.ws_url, api_key=ApiKey(creds["api_key"]))
    stream.subscribe("positions")
    events = stream.events()
    first = parse_position_event((await next_message(events, "positions")).data)
    assert isinstance(first, PositionSnapshot)
    assert [p.symbol for p in first.positions] == ["SOL-USD"]
    try:
        sim.price("SOL-USD", str((liq * Decimal("1.003")).quantize(Decimal("0.01"))))
        seen: list[Any] = []
        while not any(isinstance(e, Liquidation) for e in seen):
            seen.append(parse_position_event((await next_message(events, "positions")).data))
            if isinstance(seen[-1], LiquidationWarning):
                sim.price("SOL-USD", str((liq * Decimal("0.99")).quantize(Decimal("0.01"))))
        kinds = [type(e) for e in seen if not isinstance(e, PositionUpdate)]
        assert kinds == [LiquidationWarning, Liquidation]
        warning = next(e for e in seen if isinstance(e, LiquidationWarning))
        assert warning.liquidation_price == liq
        assert warning.margin_ratio is not None
        assert Decimal("0.8") <= warning.margin_ratio < 1
    finally:
        await stream.close()
        sim.price("SOL-USD", "180")
    assert bob.account().positions == ()
    fills = list(bob.iter_trades())
    assert fills[0].liquidation
    assert sim.ledger(creds["account_id"])["fills"][-1]["liquidation"] is True


async def test_a_refused_key_on_the_stream_is_an_authentication_error(sim: SimControl) -> None:
    creds = sim.account(expires_in=-60)
    stream = PerpExStream(sim.ws_url, api_key=ApiKey(creds["api_key"]))
    stream.subscribe("positions")
    with pytest.raises(errors.AuthenticationError) as raised:
        await anext(stream.events())
    assert creds["api_key"] not in repr(raised.value) + str(raised.value) + repr(stream)
    assert raised.value.code == "TOKEN_EXPIRED"


def test_the_positions_channel_needs_a_key(sim: SimControl) -> None:
    with pytest.raises(ValueError, match="needs an API key"):
        PerpExStream(sim.ws_url).subscribe("positions")
