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

from accounts.credentials import credentials_open
from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio import health
from portfolio.market.pricestream import PriceStreamRunner
from portfolio.models import Alert, MarketPrice, Position
from portfolio.sync import pipeline as sync
from standx_web.redis_client import redis_client
from tests.conftest import market_data_synced
from tests.standx_access import client_for
from venues import perpex as perpex_venue
from venues import registry
from venues import standx as standx_venue
from venues.account import OrderRequest
from venues.base import Endpoints, Mark, PublicSession

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
    client = redis_client()
    await sync_to_async(client.delete)(health.PRICESTREAM_HEARTBEAT_KEY)
    async with running_on_a_paused_simulator(runner, sim_url) as sim:
        await sim.post("/sim/price", json={"symbol": "BTC-USD", "mark_price": "101234"})
        await mark_becomes("BTC-USD", Decimal(101234), "stream")
        async with asyncio.timeout(5):
            while not await sync_to_async(client.get)(health.PRICESTREAM_HEARTBEAT_KEY):
                await asyncio.sleep(0.1)
        # The stream dies and cannot come back: REST takes over for the held symbol.
        await sim.post(
            "/sim/faults",
            json={"endpoint": "ws-stream", "ws_refuse_rate": 1.0, "drop_ws": True},
        )
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


def hold_sol_on_both_venues(
    standx: ExchangeAccount, perpex_sim_url: str
) -> tuple[ExchangeAccount, Position]:
    """A SOL-USD long on StandX and an isolated 10x SOL-USD long on PerpEx, both synced."""
    from accounts.models import User
    from tests.conftest import perpex_linked

    with client_for(standx, rate_limiter=NoRateLimit()) as client:
        client.new_order(symbol="SOL-USD", side="buy", order_type="market", qty="2")
    sync.account_sync(standx.pk, limiter=NoRateLimit())
    httpx.post(
        f"{perpex_sim_url}/sim/price", json={"symbol": "SOL-USD", "mark_price": "180"}, timeout=10
    ).raise_for_status()
    owner = User.objects.get(pk=standx.owner_id)
    perpex = perpex_linked(owner, perpex_sim_url, label="Perp")
    session = registry.account_adapter("perpex").account(
        Endpoints(dict(perpex.endpoints)), credentials_open(perpex), limiter=NoRateLimit()
    )
    with session:
        session.place(
            OrderRequest(
                symbol="SOL-USD",
                side="buy",
                order_type="market",
                qty=Decimal(20),
                client_order_id="sol-long",
                time_in_force="ioc",
                leverage=10,
                margin_mode="isolated",
            )
        )
    sync.account_sync(perpex.pk, limiter=NoRateLimit())
    return perpex, Position.objects.get(account=perpex, symbol="SOL-USD")


def mark_for_health(p: Position, health: Decimal) -> Decimal:
    """The mark at which this isolated long's health multiple is ``health`` (see risk.py)."""
    assert p.holding_margin is not None and p.maint_margin is not None and p.position_value
    rate = p.maint_margin / p.position_value
    mark = (p.qty * p.entry_price - p.holding_margin) / (p.qty * (1 - health * rate))
    return mark.quantize(Decimal("0.01"))


async def test_each_venue_has_its_feed_and_a_mark_on_one_never_touches_the_other(
    alice_linked: ExchangeAccount, sim_url: str, perpex_sim_url: str, settings: Any
) -> None:
    """StandX and PerpEx both list SOL-USD: PerpEx's mark falls toward liquidation, its position
    is repriced and alerted; StandX's position of the same symbol is untouched."""
    settings.VENUES = ["standx", "perpex"]  # the two feeds this test runs
    perpex, held = await sync_to_async(hold_sol_on_both_venues)(alice_linked, perpex_sim_url)
    standx_before = await Position.objects.aget(account=alice_linked, symbol="SOL-USD")
    px_endpoints = perpex_venue.endpoints_for_simulator(perpex_sim_url)
    runners = [
        runner_for(sim_url, refresh_every=0.5, heartbeat_every=0.3, write_every=0.0),
        PriceStreamRunner(
            "perpex",
            perpex_venue.ADAPTER.mark_feed(px_endpoints),
            lambda: perpex_venue.ADAPTER.public(px_endpoints, limiter=NoRateLimit()),
            refresh_every=0.5,
            heartbeat_every=0.3,
            write_every=0.0,
        ),
    ]
    client = redis_client()
    await sync_to_async(client.delete)(health.PRICESTREAM_FEEDS_KEY)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in runners]
    critical = mark_for_health(held, Decimal("1.2"))
    async with (
        httpx.AsyncClient(base_url=sim_url) as standx_sim,
        httpx.AsyncClient(base_url=perpex_sim_url) as perpex_sim,
    ):
        try:
            await standx_sim.post("/sim/pause", json={"paused": True})
            await perpex_sim.post("/sim/pause", json={"paused": True})
            await perpex_sim.post(
                "/sim/price", json={"symbol": "SOL-USD", "mark_price": str(critical)}
            )
            async with asyncio.timeout(15):
                while True:
                    row = await MarketPrice.objects.filter(
                        venue="perpex", symbol="SOL-USD"
                    ).afirst()
                    if row is not None and row.mark_price == critical:
                        break
                    await asyncio.sleep(0.1)
            async with asyncio.timeout(5):
                while True:
                    feeds = (await sync_to_async(health.health_report)())["feeds"]
                    if {v["status"] for v in feeds.values()} == {"ok"}:
                        break
                    await asyncio.sleep(0.1)
        finally:
            await standx_sim.post("/sim/pause", json={"paused": False})
            await perpex_sim.post("/sim/pause", json={"paused": False})
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 10)
    repriced = await Position.objects.aget(account=perpex, symbol="SOL-USD")
    assert repriced.mark_price == critical
    # StandX's position moved only with StandX's own marks (its feed runs too).
    untouched = await Position.objects.aget(account=alice_linked, symbol="SOL-USD")
    standx_mark = await MarketPrice.objects.aget(venue="standx", symbol="SOL-USD")
    assert untouched.mark_price in (standx_mark.mark_price, standx_before.mark_price)
    assert critical not in (untouched.mark_price, standx_mark.mark_price)
    assert untouched.qty == standx_before.qty
    alerts = [a async for a in Alert.objects.filter(rule__key="health-critical")]
    assert [(a.account_id, a.symbol, a.status) for a in alerts] == [
        (perpex.pk, "SOL-USD", "firing")
    ]
    assert "SOL-USD (Perp)" in alerts[0].title
    assert set(feeds) == {"standx", "perpex"}
    assert "1 symbol" in feeds["perpex"]["detail"]
    await sync_to_async(connections.close_all)()
