"""WebSockets: the market/user stream (`/ws-stream/v1`) and the order API (`/ws-api/v1`).

`/ws-stream/v1` accepts, one JSON object per frame:
- `{"subscribe": {"channel": "price"|"depth_book"|"public_trade", "symbol": S}}` (a price or
  depth snapshot is sent at once, then one per engine tick; public trades as they print);
- `{"auth": {"token": JWT, "streams": [{"channel": "order"}, ...]}}` (`streams` optional) answered
  `{"seq": N, "channel": "auth", "data": {"code": 200, "msg": "success"}}` (401 on failure).
  200 is what the docs show; some live clients look for 0 instead, so a client should take
  either (ours does) while the simulator emits the documented 200;
- `{"subscribe": {"channel": "order"|"position"|"balance"|"trade"}}` after auth (also accepted
  for channels already given in `streams`); `{"unsubscribe": {...}}` for either kind.
Every data frame the server sends is one object `{"seq", "channel", ["symbol",] "data"}`. `seq`
is one counter per connection, starting at 1 and incremented by every such frame on that
connection, so it is monotonic per channel too (with gaps).

Errors are top-level `{"code", "message"}` objects with no `seq` or `channel`, as the live
stream sends them (public clients run against it got exactly this; the docs show no error
frame). A frame that is not JSON, not an object, of no known kind, or that subscribes to an
unknown channel or symbol is answered `{"code": 400, "message": "invalid request payload:
<frame>"}` with the frame echoed as received; a user channel before `auth` gets 401.

`/ws-api/v1` takes `{"session_id", "request_id", "method", "header", "params": "<JSON string>"}`
with methods `auth:login`, `order:new`, `order:cancel`. `order:*` need a prior `auth:login` on
the connection and a `header` signing the exact `params` string (same rules as HTTP bodies).
Each request is answered `{"code": 0, "message": "success", "request_id"}` or
`{"code": 4xx, "message": ..., "request_id"}` (e.g. 400 "alo order rejected"). Every session_id
seen on a connection routes to it: HTTP `new_order`/`cancel_order` carrying
`x-session-id: S` push their outcome to that connection.

Server pings every 10 s are sent by uvicorn (`ws_ping_interval=10`, pong timeout 300 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from standx_sim.errors import ApiError
from standx_sim.signing import verify_headers
from standx_sim.symbols import SYMBOLS
from standx_sim.views import depth_view

if TYPE_CHECKING:
    from standx_sim.auth import AuthService, TokenInfo
    from standx_sim.engine import Engine
    from standx_sim.faults import Faults

log = logging.getLogger("standx_sim")
PUBLIC_CHANNELS = ("price", "depth_book", "public_trade")
USER_CHANNELS = ("order", "position", "balance", "trade")
QUEUE_LIMIT = 5000


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


class Connection:
    """One socket with an outgoing queue drained by its own writer task."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_LIMIT)
        self.closed = False

    def put(self, frame: str) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            # A consumer this slow is dropped rather than letting memory grow without bound.
            self.abort()

    def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    async def writer(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None:
                with contextlib.suppress(Exception):
                    await self.ws.close(code=1011)
                return
            try:
                await self.ws.send_text(frame)
            except Exception:
                self.closed = True
                return


class StreamConnection(Connection):
    def __init__(self, ws: WebSocket) -> None:
        super().__init__(ws)
        self.seq = 0
        self.user: str | None = None
        self.channels: set[str] = set()

    def send(self, channel: str, data_json: str, symbol: str | None = None) -> None:
        self.seq += 1
        if symbol is None:
            frame = f'{{"seq":{self.seq},"channel":"{channel}","data":{data_json}}}'
        else:
            frame = (
                f'{{"seq":{self.seq},"channel":"{channel}","symbol":"{symbol}","data":{data_json}}}'
            )
        self.put(frame)


class Hub:
    """Routes engine events to sockets; the engine's EventSink."""

    def __init__(self, engine: Engine, auth: AuthService, faults: Faults | None = None) -> None:
        self.engine = engine
        self.auth = auth
        self.faults = faults
        self.streams: set[StreamConnection] = set()
        self.api_conns: set[Connection] = set()
        self.by_user: dict[str, set[StreamConnection]] = {}
        self.public: dict[tuple[str, str], set[StreamConnection]] = {}
        self.sessions: dict[str, Connection] = {}

    # -- EventSink ------------------------------------------------------------------------

    def user_event(self, user: str, channel: str, data: dict[str, Any]) -> None:
        conns = self.by_user.get(user)
        if not conns:
            return
        payload = _dumps(data)
        rule = self.faults.rule_for("ws-stream") if self.faults is not None else None
        for conn in list(conns):
            if channel not in conn.channels:
                continue
            if (
                rule is not None
                and self.faults is not None
                and self.faults.roll(rule.stream_gap_rate)
            ):
                conn.seq += 1  # lost on the way: the client sees the gap in seq
            elif rule is not None and rule.stream_delay_ms:
                # Late, in order: every user frame of the connection waits the same time.
                loop = asyncio.get_running_loop()
                loop.call_later(rule.stream_delay_ms / 1000, conn.send, channel, payload)
            else:
                conn.send(channel, payload)

    def public_trade(self, symbol: str, data: dict[str, Any]) -> None:
        conns = self.public.get(("public_trade", symbol))
        if not conns:
            return
        payload = _dumps(data)
        for conn in list(conns):
            conn.send("public_trade", payload, symbol)

    # -- broadcasting ---------------------------------------------------------------------

    def broadcast_market(self) -> None:
        """Send one price and one depth snapshot per subscribed symbol (called every tick)."""
        when = self.engine.clock()
        for (channel, symbol), conns in list(self.public.items()):
            if not conns or channel == "public_trade":
                continue
            if channel == "price":
                payload = _dumps(self.engine.markets[symbol].stream_price_view(when))
            else:
                payload = _dumps(depth_view(self.engine, symbol))
            for conn in list(conns):
                conn.send(channel, payload, symbol)

    def push_session(self, session_id: str, message: dict[str, Any]) -> bool:
        conn = self.sessions.get(session_id)
        if conn is None or conn.closed:
            return False
        conn.put(_dumps(message))
        return True

    def drop_all(self) -> int:
        conns: list[Connection] = [*self.streams, *self.api_conns]
        for conn in conns:
            conn.abort()
        return len(conns)

    # -- stream endpoint ------------------------------------------------------------------

    def _forget(self, conn: StreamConnection) -> None:
        self.streams.discard(conn)
        if conn.user is not None:
            users = self.by_user.get(conn.user)
            if users is not None:
                users.discard(conn)
                if not users:
                    del self.by_user[conn.user]
        for key in list(self.public):
            self.public[key].discard(conn)
            if not self.public[key]:
                del self.public[key]

    def _error(self, conn: StreamConnection, code: int, message: str) -> None:
        # Top level, outside the seq numbering: the live stream's error shape.
        conn.put(_dumps({"code": code, "message": message}))

    def _invalid(self, conn: StreamConnection, frame: str) -> None:
        self._error(conn, 400, f"invalid request payload: {frame}")

    def _subscribe(self, conn: StreamConnection, spec: Any, on: bool, frame: str) -> None:
        if not isinstance(spec, dict):
            self._invalid(conn, frame)
            return
        channel = spec.get("channel")
        if channel in USER_CHANNELS:
            if conn.user is None:
                self._error(conn, 401, f"authenticate before subscribing to {channel}")
            elif on:
                conn.channels.add(channel)
            else:
                conn.channels.discard(channel)
            return
        symbol = spec.get("symbol")
        if channel not in PUBLIC_CHANNELS or symbol not in SYMBOLS:
            self._invalid(conn, frame)
            return
        key = (channel, symbol)
        if not on:
            self.public.get(key, set()).discard(conn)
            return
        self.public.setdefault(key, set()).add(conn)
        when = self.engine.clock()
        if channel == "price":
            conn.send(channel, _dumps(self.engine.markets[symbol].stream_price_view(when)), symbol)
        elif channel == "depth_book":
            conn.send(channel, _dumps(depth_view(self.engine, symbol)), symbol)

    def _auth(self, conn: StreamConnection, body: Any, frame: str) -> None:
        if not isinstance(body, dict):
            conn.send("auth", _dumps({"code": 400, "msg": "auth needs an object"}))
            return
        try:
            info = self.auth.resolve(str(body.get("token") or ""))
        except ApiError as error:
            conn.send("auth", _dumps({"code": error.status, "msg": error.message}))
            return
        if conn.user is not None and conn.user != info.user:
            self.by_user.get(conn.user, set()).discard(conn)
            conn.channels.clear()
        conn.user = info.user
        self.by_user.setdefault(info.user, set()).add(conn)
        conn.send("auth", _dumps({"code": 200, "msg": "success"}))
        streams = body.get("streams") or []
        if isinstance(streams, list):
            for spec in streams:
                self._subscribe(conn, spec, True, frame)

    async def stream_endpoint(self, ws: WebSocket, faults: Faults) -> None:
        if not await _admit(ws, faults, "ws-stream"):
            return
        await ws.accept()
        conn = StreamConnection(ws)
        self.streams.add(conn)
        writer = asyncio.create_task(conn.writer())
        try:
            while not conn.closed:
                text = await ws.receive_text()
                try:
                    message = json.loads(text)
                except ValueError:
                    message = None
                if not isinstance(message, dict):
                    self._invalid(conn, text)
                elif "auth" in message:
                    self._auth(conn, message["auth"], text)
                elif "subscribe" in message:
                    self._subscribe(conn, message["subscribe"], True, text)
                elif "unsubscribe" in message:
                    self._subscribe(conn, message["unsubscribe"], False, text)
                else:
                    self._invalid(conn, text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._forget(conn)
            conn.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 1)

    # -- order API endpoint ---------------------------------------------------------------

    async def api_endpoint(self, ws: WebSocket, faults: Faults) -> None:
        if not await _admit(ws, faults, "ws-api"):
            return
        await ws.accept()
        conn = Connection(ws)
        self.api_conns.add(conn)
        writer = asyncio.create_task(conn.writer())
        token: TokenInfo | None = None
        try:
            while not conn.closed:
                text = await ws.receive_text()
                try:
                    message = json.loads(text)
                except ValueError:
                    conn.put(_dumps({"code": 400, "message": "invalid JSON", "request_id": None}))
                    continue
                if not isinstance(message, dict):
                    conn.put(
                        _dumps(
                            {"code": 400, "message": "expected a JSON object", "request_id": None}
                        )
                    )
                    continue
                session_id = message.get("session_id")
                if isinstance(session_id, str) and session_id:
                    self.sessions[session_id] = conn
                token, reply = self._api_call(message, token)
                conn.put(_dumps(reply))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.api_conns.discard(conn)
            for session_id in [s for s, c in self.sessions.items() if c is conn]:
                del self.sessions[session_id]
            conn.abort()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer, 1)

    def _api_call(
        self, message: dict[str, Any], token: TokenInfo | None
    ) -> tuple[TokenInfo | None, dict[str, Any]]:
        request_id = message.get("request_id")
        method = message.get("method")
        raw_params = message.get("params")
        try:
            if isinstance(raw_params, str):
                params_text = raw_params
            elif isinstance(raw_params, dict):
                params_text = _dumps(raw_params)  # tolerated; a signature cannot match it
            else:
                raise ApiError(400, "params must be a JSON string")
            try:
                params = json.loads(params_text) if params_text else {}
            except ValueError:
                raise ApiError(400, "params is not valid JSON") from None
            if method == "auth:login":
                if not isinstance(params, dict):
                    raise ApiError(400, "params must be an object")
                token = self.auth.resolve(str(params.get("token") or ""))
                return token, {"code": 0, "message": "success", "request_id": request_id}
            if method not in ("order:new", "order:cancel"):
                raise ApiError(400, f"unknown method: {method}")
            if token is None:
                raise ApiError(401, "not authenticated: send auth:login first")
            if token.exp <= time.time():
                raise ApiError(401, "token has expired")
            header = message.get("header")
            if not isinstance(header, dict):
                raise ApiError(403, "missing signature header")
            headers = {str(k).lower(): str(v) for k, v in header.items()}
            verify_headers(headers, params_text.encode(), token.key, int(time.time() * 1000))
            if method == "order:new":
                result = self.engine.place_order(token.user, params)
                if result.rejected:
                    return token, {
                        "code": 400,
                        "message": result.rejected,
                        "request_id": request_id,
                    }
            else:
                self.engine.cancel_order(token.user, params)
            return token, {"code": 0, "message": "success", "request_id": request_id}
        except ApiError as error:
            return token, {"code": error.status, "message": error.message, "request_id": request_id}


async def _admit(ws: WebSocket, faults: Faults, name: str) -> bool:
    rule = faults.rule_for(name)
    if rule is not None and faults.roll(rule.ws_refuse_rate):
        await ws.close(code=1013)
        return False
    return True
