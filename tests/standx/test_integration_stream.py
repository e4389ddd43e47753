"""Both WebSockets against the simulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from standx.rest import Credentials, Endpoints, StandXClient, new_cl_ord_id
from standx.stream import MarketStream, OrderResponseStream, StreamError, StreamMessage


async def first_message(stream: MarketStream, channel: str, timeout: float = 15) -> StreamMessage:
    async with asyncio.timeout(timeout):
        async for event in stream.events():
            if isinstance(event, StreamMessage) and event.channel == channel:
                await stream.close()
                return event
    raise AssertionError("the stream ended")


async def first_refusal(stream: MarketStream, timeout: float = 15) -> StreamError:
    async with asyncio.timeout(timeout):
        async for event in stream.events():
            if isinstance(event, StreamError):
                await stream.close()
                return event
    raise AssertionError("the stream ended")


async def test_the_public_price_channel_streams_marks(sim_url: str) -> None:
    stream = MarketStream(Endpoints.for_simulator(sim_url).ws_url)
    stream.subscribe("price", "BTC-USD")
    message = await first_message(stream, "price")
    assert message.data["symbol"] == "BTC-USD"
    assert Decimal(message.data["mark_price"]) > 0


async def test_a_subscription_the_stream_refuses_is_reported_in_plain_words(sim_url: str) -> None:
    stream = MarketStream(Endpoints.for_simulator(sim_url).ws_url)
    stream.subscribe("price", "DOGE-USD")
    refusal = await first_refusal(stream)
    assert refusal.code == 400
    assert str(refusal) == (
        "The StandX stream did not understand a request we sent (code 400): "
        'invalid request payload: {"subscribe": {"channel": "price", "symbol": "DOGE-USD"}}'
    )


async def test_user_channels_after_auth_report_an_order(
    sim_url: str, alice_account: dict[str, Any]
) -> None:
    endpoints = Endpoints.for_simulator(sim_url)
    creds = Credentials.from_strings(alice_account["token"], alice_account["signing_key"])
    stream = MarketStream(endpoints.ws_url, credentials=creds, user_channels=("order",))
    events = stream.events()
    waiter = asyncio.ensure_future(_next_order(events))
    await asyncio.sleep(0.5)  # let the stream authenticate before the order goes in
    with StandXClient(creds, endpoints=endpoints) as client:
        await asyncio.to_thread(
            client.new_order, symbol="BTC-USD", side="buy", order_type="market", qty="0.001"
        )
    async with asyncio.timeout(15):
        message = await waiter
    await stream.close()
    assert message.data["symbol"] == "BTC-USD"
    assert message.seq is not None


async def _next_order(events: Any) -> StreamMessage:
    async for event in events:
        if isinstance(event, StreamMessage) and event.channel == "order":
            return event
    raise AssertionError("the stream ended")


async def test_the_order_response_stream_answers_and_rejects_a_taking_alo(
    sim_url: str, alice_account: dict[str, Any]
) -> None:
    endpoints = Endpoints.for_simulator(sim_url)
    creds = Credentials.from_strings(alice_account["token"], alice_account["signing_key"])
    with StandXClient(endpoints=endpoints) as public:
        book = await asyncio.to_thread(public.query_depth_book, symbol="BTC-USD")
    assert book.best_ask is not None
    async with OrderResponseStream(endpoints.ws_api_url, creds) as orders:
        # An ALO buy at the best ask would take liquidity: the matcher rejects it.
        response = await orders.new_order(
            {
                "symbol": "BTC-USD",
                "side": "buy",
                "order_type": "limit",
                "qty": "0.001",
                "price": str(book.best_ask.price),
                "time_in_force": "alo",
                "reduce_only": False,
                "cl_ord_id": new_cl_ord_id(),
            }
        )
        assert response.code == 400
        assert "alo" in response.message


async def test_http_orders_with_a_session_id_are_answered_on_that_session(
    sim_url: str, alice_account: dict[str, Any]
) -> None:
    endpoints = Endpoints.for_simulator(sim_url)
    creds = Credentials.from_strings(alice_account["token"], alice_account["signing_key"])
    async with OrderResponseStream(endpoints.ws_api_url, creds) as orders:
        with StandXClient(creds, endpoints=endpoints, session_id=orders.session_id) as client:
            await asyncio.to_thread(
                client.new_order, symbol="ETH-USD", side="buy", order_type="market", qty="0.01"
            )
        pushed = await orders.next_pushed(timeout=10)
    assert pushed.ok
