"""Both WebSockets over a real connection: streams with seq, user channels, ws-api orders."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.standx_sim.helpers import (
    ORDER_KEYS,
    POSITION_STREAM_KEYS,
    STREAM_PRICE_KEYS,
    TRADE_KEYS,
    WALLET_KEYS,
    Api,
    now_ms,
    sign,
)

ORDER = {
    "symbol": "BTC-USD",
    "side": "buy",
    "order_type": "market",
    "qty": "0.01",
    "time_in_force": "ioc",
    "reduce_only": False,
}


def ws_url(sim: str, path: str) -> str:
    return sim.replace("http://", "ws://") + path


async def recv(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_until(ws: ClientConnection, channel: str, timeout: float = 5) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame = await recv(ws)
            if frame.get("channel") == channel:
                return frame


async def drain(ws: ClientConnection) -> None:
    async with asyncio.timeout(5):
        while True:
            await ws.recv()


async def post_order(api: Api, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await asyncio.to_thread(api.post, "/api/new_order", body, headers=headers)


async def test_price_subscription_streams_snapshots_with_increasing_seq(sim: str) -> None:
    async with connect(ws_url(sim, "/ws-stream/v1")) as ws:
        await ws.send(json.dumps({"subscribe": {"channel": "price", "symbol": "BTC-USD"}}))
        first = await recv(ws)
        assert first["seq"] == 1
        assert first["channel"] == "price"
        assert first["symbol"] == "BTC-USD"
        assert set(first["data"]) == STREAM_PRICE_KEYS
        second = await recv(ws, timeout=3)  # the next engine tick
        assert second["seq"] == 2


async def test_depth_book_and_public_trades_stream(sim: str, api: Api) -> None:
    async with connect(ws_url(sim, "/ws-stream/v1")) as ws:
        await ws.send(json.dumps({"subscribe": {"channel": "depth_book", "symbol": "BTC-USD"}}))
        book = await recv(ws)
        assert set(book["data"]) == {"asks", "bids", "symbol"}
        await ws.send(json.dumps({"subscribe": {"channel": "public_trade", "symbol": "BTC-USD"}}))
        await post_order(api, ORDER)
        trade = await recv_until(ws, "public_trade")
        assert set(trade["data"]) == {
            "symbol",
            "price",
            "qty",
            "quote_qty",
            "is_buyer_taker",
            "time",
        }
        assert trade["data"]["is_buyer_taker"] is True


async def test_auth_with_streams_delivers_user_channels_in_seq_order(sim: str, api: Api) -> None:
    async with connect(ws_url(sim, "/ws-stream/v1")) as ws:
        streams = [{"channel": c} for c in ("order", "position", "balance", "trade")]
        await ws.send(json.dumps({"auth": {"token": api.token, "streams": streams}}))
        auth = await recv(ws)
        assert auth == {"seq": 1, "channel": "auth", "data": {"code": 200, "msg": "success"}}
        await post_order(api, ORDER)
        seen: dict[str, dict[str, Any]] = {}
        seqs = []
        async with asyncio.timeout(5):
            while len(seen) < 4:
                frame = await recv(ws)
                seqs.append(frame["seq"])
                seen[frame["channel"]] = frame["data"]
        assert seqs == sorted(seqs)
        assert seqs[0] == 2
        assert set(seen["order"]) == ORDER_KEYS
        assert set(seen["position"]) == POSITION_STREAM_KEYS
        assert set(seen["balance"]) == WALLET_KEYS
        assert set(seen["trade"]) == TRADE_KEYS
        assert seen["position"]["qty"] == "0.010"


async def test_subscribe_after_auth_is_accepted_and_before_auth_refused(sim: str, api: Api) -> None:
    async with connect(ws_url(sim, "/ws-stream/v1")) as ws:
        await ws.send(json.dumps({"subscribe": {"channel": "order"}}))
        refused = await recv(ws)
        assert refused == {"code": 401, "message": "authenticate before subscribing to order"}
        await ws.send(json.dumps({"auth": {"token": api.token}}))
        assert (await recv(ws))["data"]["code"] == 200
        await ws.send(json.dumps({"subscribe": {"channel": "order"}}))
        await ws.send(json.dumps({"subscribe": {"channel": "order"}}))  # repeated, as ETH does
        await post_order(api, ORDER)
        order = await recv_until(ws, "order")
        assert order["data"]["status"] == "filled"


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"ping": {}}',
        '{"subscribe": "price"}',
        '{"subscribe": {"channel": "candles", "symbol": "BTC-USD"}}',
        '{"subscribe": {"channel": "price", "symbol": "DOGE-USD"}}',
    ],
)
async def test_an_unknown_or_malformed_frame_gets_the_live_top_level_error(
    sim: str, frame: str
) -> None:
    async with connect(ws_url(sim, "/ws-stream/v1")) as ws:
        await ws.send(frame)
        assert await recv(ws) == {"code": 400, "message": f"invalid request payload: {frame}"}
        # The connection stays usable, and an error frame took no seq.
        await ws.send(json.dumps({"subscribe": {"channel": "price", "symbol": "BTC-USD"}}))
        price = await recv(ws)
        assert (price["channel"], price["seq"]) == ("price", 1)


async def test_a_bad_token_gets_a_failed_auth_reply(sim: str) -> None:
    async with connect(ws_url(sim, "/ws-stream/v1")) as ws:
        await ws.send(json.dumps({"auth": {"token": "nope"}}))
        reply = await recv(ws)
        assert reply["channel"] == "auth"
        assert reply["data"]["code"] == 401


def ws_order(
    api: Api, method: str, params: dict[str, Any], *, spaced: bool = False, session_id: str = "s"
) -> dict[str, Any]:
    text = json.dumps(params) if spaced else json.dumps(params, separators=(",", ":"))
    rid, ts = str(uuid.uuid4()), now_ms()
    return {
        "session_id": session_id,
        "request_id": str(uuid.uuid4()),
        "method": method,
        "header": {
            "x-request-id": rid,
            "x-request-timestamp": ts,
            "x-request-signature": sign(api.creds["signing_key"], rid, ts, text.encode()),
        },
        "params": text,
    }


async def test_ws_api_logs_in_places_rejects_and_cancels_orders(
    sim: str, api: Api, set_price: Callable[[str, str], None]
) -> None:
    set_price("BTC-USD", "100000")
    async with connect(ws_url(sim, "/ws-api/v1")) as ws:
        early = ws_order(api, "order:new", ORDER)
        await ws.send(json.dumps(early))
        assert (await recv(ws))["code"] == 401
        login = {
            "session_id": "s",
            "request_id": "r-login",
            "method": "auth:login",
            "params": json.dumps({"token": api.token}),
        }
        await ws.send(json.dumps(login))
        assert await recv(ws) == {"code": 0, "message": "success", "request_id": "r-login"}
        placed = ws_order(api, "order:new", ORDER, spaced=True)
        await ws.send(json.dumps(placed))
        assert await recv(ws) == {
            "code": 0,
            "message": "success",
            "request_id": placed["request_id"],
        }
        alo = ws_order(
            api,
            "order:new",
            {**ORDER, "order_type": "limit", "price": "100100", "time_in_force": "alo"},
        )
        await ws.send(json.dumps(alo))
        assert await recv(ws) == {
            "code": 400,
            "message": "alo order rejected",
            "request_id": alo["request_id"],
        }
        resting = {
            **ORDER,
            "order_type": "limit",
            "price": "90000",
            "time_in_force": "gtc",
            "cl_ord_id": "ws-rest",
        }
        rest = ws_order(api, "order:new", resting)
        await ws.send(json.dumps(rest))
        assert (await recv(ws))["code"] == 0
        cancel = ws_order(api, "order:cancel", {"cl_ord_id": "ws-rest"})
        await ws.send(json.dumps(cancel))
        assert (await recv(ws))["code"] == 0
        forged = ws_order(api, "order:new", ORDER)
        forged["params"] = forged["params"].replace("0.01", "0.02")
        await ws.send(json.dumps(forged))
        assert (await recv(ws))["code"] == 403
    assert api.get_json("/api/query_order", cl_ord_id="ws-rest")["status"] == "canceled"


async def test_http_orders_with_a_session_id_push_results_to_that_ws_api_session(
    sim: str, api: Api, set_price: Callable[[str, str], None]
) -> None:
    set_price("BTC-USD", "100000")
    session = f"session-{uuid.uuid4()}"
    async with connect(ws_url(sim, "/ws-api/v1")) as ws:
        login = {
            "session_id": session,
            "request_id": "r1",
            "method": "auth:login",
            "params": json.dumps({"token": api.token}),
        }
        await ws.send(json.dumps(login))
        assert (await recv(ws))["code"] == 0
        response = await post_order(api, ORDER, **{"x-session-id": session})
        pushed = await recv(ws)
        assert pushed == {
            "code": 0,
            "message": "success",
            "request_id": response.json()["request_id"],
        }
        alo = {**ORDER, "order_type": "limit", "price": "100100", "time_in_force": "alo"}
        response = await post_order(api, alo, **{"x-session-id": session})
        assert response.json()["code"] == 0
        assert await recv(ws) == {
            "code": 400,
            "message": "alo order rejected",
            "request_id": response.json()["request_id"],
        }


async def test_drop_ws_closes_open_connections(sim: str) -> None:
    async with connect(ws_url(sim, "/ws-stream/v1")) as ws:
        await ws.send(json.dumps({"subscribe": {"channel": "price", "symbol": "ETH-USD"}}))
        await recv(ws)
        answer = await asyncio.to_thread(
            httpx.post, f"{sim}/sim/faults", json={"drop_ws": True}, timeout=10
        )
        assert answer.json()["dropped_ws"] >= 1
        with pytest.raises(ConnectionClosed):
            await drain(ws)


async def test_ws_refuse_rate_refuses_new_handshakes(sim: str) -> None:
    await asyncio.to_thread(
        httpx.post,
        f"{sim}/sim/faults",
        json={"endpoint": "ws-stream", "ws_refuse_rate": 1},
        timeout=10,
    )
    with pytest.raises(InvalidStatus):
        async with connect(ws_url(sim, "/ws-stream/v1")):
            pass
    await asyncio.to_thread(httpx.delete, f"{sim}/sim/faults", timeout=10)
    async with connect(ws_url(sim, "/ws-stream/v1")):
        pass


async def test_the_server_pings_every_ten_seconds(sim: str) -> None:
    """A raw handshake, then wait for a Ping frame (opcode 0x9) from the server."""
    host, port = sim.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"GET /ws-stream/v1 HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        started = asyncio.get_running_loop().time()
        first = await asyncio.wait_for(reader.readexactly(2), 12)
        assert first[0] & 0x0F == 0x9
        assert 8 <= asyncio.get_running_loop().time() - started <= 12
    finally:
        writer.close()


async def user_stream(sim: str, api: Api) -> Any:
    ws = await connect(ws_url(sim, "/ws-stream/v1"))
    streams = [{"channel": c} for c in ("order", "position", "balance", "trade")]
    await ws.send(json.dumps({"auth": {"token": api.token, "streams": streams}}))
    await recv(ws)
    return ws


async def test_stream_gap_rate_loses_user_frames_and_leaves_a_gap_in_seq(
    sim: str, api: Api
) -> None:
    ws = await user_stream(sim, api)
    rule = {"endpoint": "ws-stream", "stream_gap_rate": 1}
    await asyncio.to_thread(httpx.post, f"{sim}/sim/faults", json=rule, timeout=10)
    try:
        await post_order(api, ORDER)
    finally:
        await asyncio.to_thread(httpx.delete, f"{sim}/sim/faults", timeout=10)
    await post_order(api, ORDER)
    frame = await recv(ws)
    # The first order's frames were lost on the way; their numbers are gone too.
    assert frame["seq"] > 2
    await ws.close()


async def test_stream_delay_ms_sends_user_frames_late_and_in_order(sim: str, api: Api) -> None:
    ws = await user_stream(sim, api)
    rule = {"endpoint": "ws-stream", "stream_delay_ms": 600}
    await asyncio.to_thread(httpx.post, f"{sim}/sim/faults", json=rule, timeout=10)
    try:
        sent = asyncio.get_running_loop().time()
        await post_order(api, ORDER)
        first = await recv(ws)
        assert asyncio.get_running_loop().time() - sent >= 0.5
        second = await recv(ws)
        assert (first["seq"], second["seq"]) == (2, 3)
    finally:
        await asyncio.to_thread(httpx.delete, f"{sim}/sim/faults", timeout=10)
        await ws.close()
