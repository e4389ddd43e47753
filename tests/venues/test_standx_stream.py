"""The StandX adapter's account stream: frames as normalized events, against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
import pytest

from standx.stream import StreamMessage
from venues import errors
from venues import standx as standx_venue
from venues.events import (
    BalanceChanged,
    FillReceived,
    OrderChanged,
    PositionChanged,
    StreamBreak,
)

WALLET = {
    "total": "10010.5",
    "locked": "12",
    "occupied": "50.25",
    "free": "9948.25",
    "updated_at": "2026-12-01T10:00:00.000000Z",
}


def test_it_reads_a_wallet_frame_as_cash_and_what_positions_and_orders_hold() -> None:
    event = standx_venue.account_event(StreamMessage("balance", WALLET, seq=4))
    assert isinstance(event, BalanceChanged)
    assert event.cash == Decimal("10010.5")
    assert (event.locked, event.margin_used, event.free) == (
        12,
        Decimal("50.25"),
        Decimal("9948.25"),
    )


def test_it_ignores_frames_that_are_no_account_change() -> None:
    assert standx_venue.account_event(StreamMessage("price", {"symbol": "BTC-USD"})) is None


def test_it_refuses_a_malformed_frame_in_the_clients_words() -> None:
    from standx import errors as sx_errors

    with pytest.raises(sx_errors.BadResponseError):
        standx_venue.account_event(StreamMessage("balance", {"total": "x"}))


async def first_events(stream: Any, count: int) -> list[Any]:
    out: list[Any] = []
    async with asyncio.timeout(10):
        async for event in stream.events():
            out.append(event)
            if len(out) == count:
                break
    await stream.close()
    return out


async def test_it_streams_an_order_as_order_fill_position_and_balance(sim_url: str) -> None:
    creds = await asyncio.to_thread(
        lambda: httpx.post(f"{sim_url}/sim/accounts", json={"chain": "bsc", "deposit": "1000"})
    )
    secrets: Mapping[str, str] = {standx_venue.TOKEN_KIND: creds.json()["token"]}
    endpoints = standx_venue.endpoints_for_simulator(sim_url)
    stream = standx_venue.ADAPTER.account_stream(endpoints, lambda: secrets, ping_every=2)
    collecting = asyncio.create_task(first_events(stream, 5))
    async with asyncio.timeout(10):
        while not stream.connected:
            await asyncio.sleep(0.05)
    from standx.rest import Credentials, StandXClient
    from standx.rest import Endpoints as SxEndpoints

    def buy() -> None:
        client_creds = Credentials.from_strings(creds.json()["token"], creds.json()["signing_key"])
        with StandXClient(client_creds, endpoints=SxEndpoints.for_simulator(sim_url)) as client:
            client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.001")

    await asyncio.to_thread(buy)
    events = await collecting
    assert isinstance(events[0], StreamBreak)  # connected: the caller reads in full first
    kinds = {type(e) for e in events[1:]}
    assert kinds == {OrderChanged, FillReceived, PositionChanged, BalanceChanged}
    position = next(e for e in events if isinstance(e, PositionChanged))
    assert (position.symbol, position.qty) == ("BTC-USD", Decimal("0.001"))
    assert position.at is not None


async def test_it_says_the_venue_refused_the_credentials(sim_url: str) -> None:
    from tests.standx.test_errors import token

    endpoints = standx_venue.endpoints_for_simulator(sim_url)
    secrets = {standx_venue.TOKEN_KIND: token()}
    stream = standx_venue.ADAPTER.account_stream(endpoints, lambda: secrets, ping_every=2)
    with pytest.raises(errors.AuthExpired):
        await first_events(stream, 1)
