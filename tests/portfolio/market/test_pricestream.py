"""The price stream runner against the simulator's real WebSocket."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio import health
from portfolio.market.pricestream import PriceStreamRunner
from portfolio.models import MarketPrice
from portfolio.sync import pipeline as sync
from tests.conftest import market_data_synced
from tests.standx_access import client_for
from venues import standx as standx_venue
from venues.base import Mark, PublicSession

pytestmark = pytest.mark.django_db(transaction=True)


def hold_btc(account: ExchangeAccount) -> None:
    with client_for(account, rate_limiter=NoRateLimit()) as client:
        client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
    sync.account_sync(account.pk, limiter=NoRateLimit())


async def mark_becomes(symbol: str, value: Decimal, source: str, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while True:
            row = await MarketPrice.objects.filter(symbol=symbol).afirst()
            if row is not None and row.mark_price == value and row.source == source:
                return
            await asyncio.sleep(0.1)


def runner_for(sim_url: str, **options: float) -> PriceStreamRunner:
    """The runner on the simulator's StandX feed, with its REST fallback unthrottled."""
    endpoints = standx_venue.endpoints_for_simulator(sim_url)
    adapter = standx_venue.ADAPTER
    return PriceStreamRunner(
        adapter.key,
        adapter.mark_feed(endpoints),
        lambda: adapter.public(endpoints, limiter=NoRateLimit()),
        **options,
    )


@asynccontextmanager
async def running_on_a_paused_simulator(
    runner: PriceStreamRunner, sim_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The runner running against the simulator, whose prices move only when a test sets them;
    afterwards no fault is left injected and the runner has stopped."""
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    async with httpx.AsyncClient(base_url=sim_url) as sim:
        try:
            await sim.post("/sim/pause", json={"paused": True})
            yield sim
        finally:
            await sim.delete("/sim/faults")
            await sim.post("/sim/pause", json={"paused": False})
            stop.set()
            await asyncio.wait_for(task, 10)
            await sync_to_async(connections.close_all)()


async def test_marks_stream_in_and_the_rest_fallback_covers_a_dead_stream(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    await sync_to_async(hold_btc)(alice_linked)
    runner = runner_for(
        sim_url, refresh_every=0.5, stale_after=1.0, heartbeat_every=0.3, write_every=0.0
    )
    client = health.redis_client()
    await sync_to_async(client.delete)(health.PRICESTREAM_HEARTBEAT_KEY)
    async with running_on_a_paused_simulator(runner, sim_url) as sim:
        await sim.post("/sim/price", json={"symbol": "BTC-USD", "mark_price": "101234"})
        await mark_becomes("BTC-USD", Decimal(101234), "stream")
        async with asyncio.timeout(5):
            while not await sync_to_async(client.get)(health.PRICESTREAM_HEARTBEAT_KEY):
                await asyncio.sleep(0.1)
        # The stream dies and cannot come back: REST takes over for the held symbol.
        await sim.post(
            "/sim/faults", json={"endpoint": "ws-stream", "ws_refuse_rate": 1.0,
                                 "drop_ws": True},
        )  # fmt: skip
        await sim.post("/sim/price", json={"symbol": "BTC-USD", "mark_price": "98765"})
        await mark_becomes("BTC-USD", Decimal(98765), "rest")


async def test_every_listed_symbol_gets_marks_from_the_stream_though_nobody_holds_it(
    sim_url: str,
) -> None:
    await sync_to_async(market_data_synced)(sim_url)
    await MarketPrice.objects.all().adelete()
    runner = runner_for(sim_url, refresh_every=0.5, write_every=0.0)
    async with running_on_a_paused_simulator(runner, sim_url) as sim:
        await sim.post("/sim/price", json={"symbol": "ETH-USD", "mark_price": "3456.5"})
        await mark_becomes("ETH-USD", Decimal("3456.5"), "stream")
    assert {"BTC-USD", "ETH-USD", "SOL-USD"} <= runner.symbols
    assert runner.held == set()  # nothing held: no REST fallback polls


async def test_a_stop_lets_the_write_in_flight_finish(
    alice_linked: ExchangeAccount, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write cut off by the stop would go on in its thread after the loop is gone, and fail
    at interpreter exit (its alert publish can no longer start a loop)."""
    from portfolio.market import pricestream

    started, finished = threading.Event(), threading.Event()
    store = pricestream.market.mark_store

    def slow_store(*args: Any, **kwargs: Any) -> Any:
        started.set()
        time.sleep(0.5)  # still writing when the stop comes
        result = store(*args, **kwargs)
        finished.set()
        return result

    monkeypatch.setattr(pricestream.market, "mark_store", slow_store)
    runner = runner_for(sim_url)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await asyncio.sleep(0.2)  # past the first symbol refresh
    await runner.on_mark(Mark("BTC-USD", Decimal(101234), None, None))
    assert await asyncio.to_thread(started.wait, 5)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert finished.is_set()
    row = await MarketPrice.objects.aget(symbol="BTC-USD")
    assert row.mark_price == Decimal(101234)
    await sync_to_async(connections.close_all)()


async def test_a_refused_subscription_is_logged_in_words_and_prices_keep_coming(
    sim_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    def no_rest() -> PublicSession:
        raise AssertionError("this test reads only the stream")

    feed = standx_venue.ADAPTER.mark_feed(standx_venue.endpoints_for_simulator(sim_url))
    runner = PriceStreamRunner("standx", feed, no_rest)
    feed.watch("DOGE-USD")  # a symbol StandX does not list
    feed.watch("BTC-USD")
    consumer = asyncio.create_task(runner._consume())
    try:
        async with asyncio.timeout(15):
            while "BTC-USD" not in runner.latest or "did not understand" not in caplog.text:
                await asyncio.sleep(0.05)
    finally:
        await feed.close()
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
    assert (
        "price stream: The StandX stream did not understand a request we sent (code 400): "
        'invalid request payload: {"subscribe": {"channel": "price", "symbol": "DOGE-USD"}}'
    ) in caplog.text
