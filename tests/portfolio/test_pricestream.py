"""The price stream runner against the simulator's real WebSocket."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from accounts.models import StandXAccount
from accounts.standx_access import client_for
from portfolio import sync
from portfolio.models import MarketPrice
from portfolio.pricestream import PriceStreamRunner
from standx.ratelimit import NoRateLimit
from standx.rest import Endpoints, StandXClient
from standx_web import health

pytestmark = pytest.mark.django_db(transaction=True)


def hold_btc(account: StandXAccount) -> None:
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


async def test_marks_stream_in_and_the_rest_fallback_covers_a_dead_stream(
    alice_linked: StandXAccount, sim_url: str
) -> None:
    await sync_to_async(hold_btc)(alice_linked)
    endpoints = Endpoints.for_simulator(sim_url)
    runner = PriceStreamRunner(
        endpoints.ws_url,
        lambda: StandXClient(endpoints=endpoints, rate_limiter=NoRateLimit()),
        refresh_every=0.5,
        stale_after=1.0,
        heartbeat_every=0.3,
        write_every=0.0,
    )
    client = health.redis_client()
    await sync_to_async(client.delete)(health.PRICESTREAM_HEARTBEAT_KEY)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    async with httpx.AsyncClient(base_url=sim_url) as sim:
        try:
            await sim.post("/sim/pause", json={"paused": True})
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
        finally:
            await sim.delete("/sim/faults")
            await sim.post("/sim/pause", json={"paused": False})
            stop.set()
            await asyncio.wait_for(task, 10)
            await sync_to_async(connections.close_all)()
