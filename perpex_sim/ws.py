"""The WebSocket (at ``/ws`` and at ``/``): the market channels and the private positions channel.

Client -> server, one JSON object per frame:

- ``{"op": "auth", "token": JWT}`` -> ``{"type": "auth", "status": "ok", "accountId"}``;
- ``{"op": "subscribe", "channel": C, "symbol"?: S, "interval"?: "1m", "depth"?: 20}`` ->
  ``{"type": "subscribed", "channel", "symbol", ...}``, then a snapshot where one exists;
  ``{"op": "unsubscribe", ...}`` the same way -> ``{"type": "unsubscribed", ...}``;
- ``{"op": "ping"}`` -> ``{"type": "pong", "time"}``; ``{"op": "pong"}`` answers a server ping.

Channels: ``trades`` (symbol; a list of ``{id, price, size, side, time}`` per tick), ``orderbook``
(symbol, ``depth`` 1-100; a full snapshot ``{bids, asks, markPrice, indexPrice, time}`` per
tick), ``candles`` (symbol, ``interval`` 1m/5m/15m/1h/4h/1d; first ``"snapshot": true`` with up to
500 recent candles, then the forming candle every tick), ``positions`` (after auth; optional
symbol filter; first ``{"event": "snapshot", "positions": [...]}``, then ``update`` /
``liquidation_warning`` / ``liquidation`` events as ``engine.py`` describes). Data frames are
``{"channel", "symbol"?, "interval"?, "snapshot"?, "data"}``.

Errors are ``{"type": "error", "code", "message"}`` and leave the connection open: codes
``INVALID_REQUEST``, ``INVALID_SYMBOL``, ``UNAUTHORIZED`` / ``TOKEN_EXPIRED`` (a bad auth, or the
positions channel before auth), ``SUBSCRIPTION_LIMIT`` (more than ``max_subscriptions``, 10).

Heartbeat: when nothing has come from the client for ``heartbeat_s`` (30 s), the server sends
``{"type": "ping", "time"}`` and closes the connection (code 4000) if nothing arrives within
``pong_timeout_s`` (10 s). uvicorn also sends protocol ping frames every 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from perpex_sim.errors import ApiError
from perpex_sim.markets import INTERVALS, spec_for

if TYPE_CHECKING:
    from perpex_sim.engine import Engine
    from perpex_sim.faults import Faults
    from perpex_sim.keys import Keys

CHANNELS = ("trades", "orderbook", "candles", "positions")
QUEUE_LIMIT = 5000
SNAPSHOT_CANDLES = 500


@dataclass
class WsConfig:
    heartbeat_s: float = 30.0
    pong_timeout_s: float = 10.0
    max_subscriptions: int = 10


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


@dataclass(eq=False)
class Conn:
    ws: WebSocket
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    closed: bool = False
    close_code: int = 1011
    account: str | None = None
    subs: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    heard: float = field(default_factory=time.monotonic)
    pinged: float | None = None

    def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(_dumps(message))
        except asyncio.QueueFull:
            self.abort()  # a reader this slow is dropped, not buffered without bound

    def abort(self, code: int = 1011) -> None:
        if not self.closed:
            self.closed, self.close_code = True, code
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)

    async def writer(self) -> None:
        while (frame := await self.queue.get()) is not None:
            try:
                await self.ws.send_text(frame)
            except Exception:
                self.closed = True
                return
        with contextlib.suppress(Exception):
            await self.ws.close(code=self.close_code)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


class Hub:
    """Routes engine events and per-tick snapshots to sockets; the engine's sink."""

    def __init__(self, engine: Engine, keys: Keys, faults: Faults, config: WsConfig) -> None:
        self.engine, self.keys, self.faults, self.config = engine, keys, faults, config
        self.conns: set[Conn] = set()
        self._trades: dict[str, list[dict[str, Any]]] = {}

    # -- the engine's sink ----------------------------------------------------------------------

    def position_event(self, account_id: str, data: dict[str, Any]) -> None:
        symbol = data.get("symbol") or (data.get("position") or {}).get("symbol")
        for conn in self.conns:
            if conn.account != account_id:
                continue
            if ("positions", None) in conn.subs or ("positions", symbol) in conn.subs:
                conn.send({"channel": "positions", "data": data})

    def public_trade(self, symbol: str, trade: dict[str, Any]) -> None:
        if any(("trades", symbol) in c.subs for c in self.conns):
            self._trades.setdefault(symbol, []).append(trade)

    # -- every tick -----------------------------------------------------------------------------

    def broadcast(self) -> None:
        trades, self._trades = self._trades, {}
        for conn in list(self.conns):
            for key, sub in list(conn.subs.items()):
                channel, symbol = key[0], key[1]
                if channel == "trades" and trades.get(symbol):
                    conn.send({"channel": "trades", "symbol": symbol, "data": trades[symbol]})
                elif channel == "orderbook":
                    conn.send(
                        {
                            "channel": "orderbook",
                            "symbol": symbol,
                            "data": self._book(symbol, sub["depth"]),
                        }
                    )
                elif channel == "candles":
                    bars = self.engine.markets[symbol].candle_list(sub["interval"], 1)
                    conn.send(
                        {
                            "channel": "candles",
                            "symbol": symbol,
                            "interval": sub["interval"],
                            "data": bars[-1],
                        }
                    )

    def _book(self, symbol: str, depth: int) -> dict[str, Any]:
        market = self.engine.markets[symbol]
        return {
            **market.book(depth),
            "markPrice": str(market.mark),
            "indexPrice": str(market.index),
            "time": int(self.engine.clock().timestamp() * 1000),
        }

    def drop_all(self) -> int:
        conns = list(self.conns)
        for conn in conns:
            conn.abort()
        return len(conns)

    # -- one connection -------------------------------------------------------------------------

    async def endpoint(self, ws: WebSocket) -> None:
        rule = self.faults.rule("ws")
        if rule is not None and self.faults.hit(rule.ws_refuse_rate):
            await ws.close(code=1013)
            return
        await ws.accept()
        conn = Conn(ws)
        self.conns.add(conn)
        tasks = [asyncio.create_task(conn.writer()), asyncio.create_task(self._heartbeat(conn))]
        try:
            while not conn.closed:
                text = await ws.receive_text()
                conn.heard, conn.pinged = time.monotonic(), None
                self._handle(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.conns.discard(conn)
            conn.abort()
            tasks[1].cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(tasks[0], 1)

    async def _heartbeat(self, conn: Conn) -> None:
        while not conn.closed:
            await asyncio.sleep(min(1.0, self.config.heartbeat_s / 5))
            now = time.monotonic()
            if conn.pinged is not None and now - conn.pinged >= self.config.pong_timeout_s:
                conn.abort(4000)
            elif conn.pinged is None and now - conn.heard >= self.config.heartbeat_s:
                conn.pinged = now
                conn.send({"type": "ping", "time": int(time.time() * 1000)})

    def _handle(self, conn: Conn, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            conn.send(_error("INVALID_REQUEST", "send one JSON object per frame"))
            return
        op = message.get("op")
        try:
            if op == "auth":
                info = self.keys.resolve_token(str(message.get("token") or ""))
                conn.account = info.account
                conn.send({"type": "auth", "status": "ok", "accountId": info.account})
            elif op in ("subscribe", "unsubscribe"):
                self._subscribe(conn, message, op == "subscribe")
            elif op == "ping":
                conn.send({"type": "pong", "time": int(time.time() * 1000)})
            elif op != "pong":
                conn.send(_error("INVALID_REQUEST", f"unknown op {str(op)[:40]!r}"))
        except ApiError as error:
            conn.send(_error(error.code, error.message))

    def _subscribe(self, conn: Conn, message: dict[str, Any], on: bool) -> None:
        channel = message.get("channel")
        if channel not in CHANNELS:
            raise ApiError(400, "INVALID_REQUEST", f"unknown channel {str(channel)[:40]!r}")
        sub: dict[str, Any] = {"channel": channel}
        if channel == "positions":
            if conn.account is None:
                raise ApiError(401, "UNAUTHORIZED", "authenticate before subscribing to positions")
            symbol = spec_for(message["symbol"]).symbol if message.get("symbol") else None
        else:
            symbol = spec_for(message.get("symbol")).symbol
        sub["symbol"] = symbol
        if channel == "candles":
            sub["interval"] = message.get("interval") or "1m"
            if sub["interval"] not in INTERVALS:
                raise ApiError(
                    400, "INVALID_REQUEST", f"interval must be one of {', '.join(INTERVALS)}"
                )
        if channel == "orderbook":
            depth = message.get("depth", 20)
            if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 100:
                raise ApiError(400, "INVALID_REQUEST", "depth must be a whole number from 1 to 100")
            sub["depth"] = depth
        key = (channel, symbol, sub.get("interval"))[: 3 if channel == "candles" else 2]
        if not on:
            conn.subs.pop(key, None)
            conn.send({"type": "unsubscribed", **sub})
            return
        if key not in conn.subs and len(conn.subs) >= self.config.max_subscriptions:
            raise ApiError(
                400,
                "SUBSCRIPTION_LIMIT",
                f"at most {self.config.max_subscriptions} subscriptions per connection",
            )
        conn.subs[key] = sub
        conn.send({"type": "subscribed", **sub})
        self._snapshot(conn, sub)

    def _snapshot(self, conn: Conn, sub: dict[str, Any]) -> None:
        channel, symbol = sub["channel"], sub["symbol"]
        if channel == "orderbook":
            conn.send(
                {"channel": channel, "symbol": symbol, "data": self._book(symbol, sub["depth"])}
            )
        elif channel == "candles":
            bars = self.engine.markets[symbol].candle_list(sub["interval"], SNAPSHOT_CANDLES)
            conn.send(
                {
                    "channel": channel,
                    "symbol": symbol,
                    "interval": sub["interval"],
                    "snapshot": True,
                    "data": bars,
                }
            )
        elif channel == "positions" and conn.account is not None:
            account = self.engine.accounts[conn.account]
            views = [
                self.engine.position_view(account, p)
                for p in account.open_positions()
                if symbol is None or p.symbol == symbol
            ]
            conn.send({"channel": channel, "data": {"event": "snapshot", "positions": views}})
