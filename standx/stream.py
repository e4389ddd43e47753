"""StandX WebSockets: the market stream and the order response stream (asyncio).

Market stream (``/ws-stream/v1``): public ``price``/``depth_book``/``public_trade`` per symbol;
after ``auth``, the user's ``order``/``position``/``balance``/``trade``. :meth:`MarketStream.events`
yields messages forever: it answers pings (the websockets library does), rotates the connection
before StandX's 24 h limit, reconnects with exponential backoff 1 s → 30 s, re-authenticates and
resubscribes, and yields :class:`Reconnected` and :class:`SeqGap` so the caller can resync over
REST (the stream is not a complete record on its own). A frame the server refused comes back as
:class:`StreamError`, in plain words.

The auth acknowledgement counts as success with ``data.code`` 200 (the docs) or 0 (what some
live clients look for). Errors are read in both shapes: the live top-level
``{"code": 400, "message": "invalid request payload: <frame>"}`` and a
``{"channel": "error", "data": {"code", "msg"}}`` envelope.

Order response stream (``/ws-api/v1``): ``auth:login``, ``order:new``, ``order:cancel`` matched
to responses by ``request_id``; results of HTTP orders sent with ``x-session-id`` arrive here too.
In-flight requests are failed on a disconnect, never replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from exchange_common.errors import redact
from standx import errors
from standx.rest import Credentials
from standx.signing import encode_body, signed_headers

PUBLIC_CHANNELS = ("price", "depth_book", "public_trade")
USER_CHANNELS = ("order", "position", "balance", "trade")
MAX_CONNECTION_AGE_S = 23 * 3600 + 50 * 60  # StandX closes connections at 24 h
STALE_AFTER_S = 120.0
# An authenticated stream is re-opened (and re-authenticated) this long before its token expires.
REAUTH_BEFORE_EXPIRY_S = 300.0

Connector = Callable[[str], Awaitable[ClientConnection]]


async def _default_connect(url: str) -> ClientConnection:
    return await connect(url, ping_interval=20, ping_timeout=20, open_timeout=10, max_size=2**22)


@dataclass(frozen=True)
class StreamMessage:
    channel: str
    data: Any
    seq: int | None = None
    symbol: str | None = None


@dataclass(frozen=True)
class SeqGap:
    """``seq`` on ``channel`` jumped from ``expected`` to ``got``: resync that data over REST."""

    channel: str
    expected: int
    got: int


@dataclass(frozen=True)
class Reconnected:
    """The connection was re-established (and re-authenticated): resync state over REST."""

    attempt: int
    reason: str


@dataclass(frozen=True)
class StreamError:
    """The stream refused a frame we sent; the connection stays open. ``str()`` is plain words.

    ``message`` never holds the access token: the live server echoes the refused frame, and an
    ``auth`` frame carries the token, so it is redacted first.
    """

    code: int
    message: str

    def __str__(self) -> str:
        what = "did not understand a request we sent" if self.code == 400 else "refused a request"
        return f"The StandX stream {what} (code {self.code}): {self.message or 'no reason given'}"


StreamEvent = StreamMessage | SeqGap | Reconnected | StreamError
AUTH_OK_CODES = (0, 200)  # 200 in the docs; some live clients look for 0


def backoff(attempt: int, *, first: float = 1.0, cap: float = 30.0) -> float:
    """1 s, 2 s, 4 s … capped at 30 s, with ±20% jitter so many clients do not stampede."""
    base = min(cap, first * 2 ** max(0, attempt - 1))
    return float(base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not cryptography


@dataclass
class MarketStream:
    """``seq_scope``: "channel" tracks gaps per channel; "connection" per connection, as the
    user streams need (their one counter runs across order, position, balance and trade, so a
    per-channel check would see a gap at every other frame). ``announce_connect`` yields
    :class:`Reconnected` for the first connection too (a caller that resyncs over REST after
    every connection). ``credentials_source``, when given, is asked for the credentials before
    each connection (a re-linked account's new token is used from the next one on); a token
    with an expiry is re-authenticated by re-opening the connection shortly before it expires.
    """

    url: str
    credentials: Credentials | None = None
    user_channels: tuple[str, ...] = ()
    subscriptions: list[tuple[str, str | None]] = field(default_factory=list)
    max_age: float = MAX_CONNECTION_AGE_S
    stale_after: float = STALE_AFTER_S
    connector: Connector = _default_connect
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    seq_scope: str = "channel"
    announce_connect: bool = False
    credentials_source: Callable[[], Credentials] | None = field(default=None, repr=False)
    _ws: ClientConnection | None = field(default=None, init=False, repr=False)
    _closed: bool = field(default=False, init=False)
    _seq: dict[str, int] = field(default_factory=dict, init=False)

    @property
    def connected(self) -> bool:
        """Whether a connection is open (and authenticated) right now."""
        return self._ws is not None

    def _connection_age_limit(self) -> float:
        """How long this connection may live: StandX's 24 h limit, or until shortly before the
        token expires (re-opening re-authenticates)."""
        expires = self.credentials.expires_at if self.credentials is not None else None
        if expires is None:
            return self.max_age
        left = expires.timestamp() - time.time() - REAUTH_BEFORE_EXPIRY_S
        if left <= 0:
            # Too late to gain anything by re-opening with this token (a re-link's new one is
            # read at the next connection); the venue's refusal, when it comes, is raised.
            return self.max_age
        return min(self.max_age, left)

    def subscribe(self, channel: str, symbol: str | None = None) -> None:
        if channel in PUBLIC_CHANNELS and not symbol:
            raise ValueError(f"{channel} needs a symbol")
        if (channel, symbol) not in self.subscriptions:
            self.subscriptions.append((channel, symbol))
            if self._ws is not None:
                asyncio.ensure_future(self._send_subscribe(self._ws, channel, symbol))  # noqa: RUF006

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def _send_subscribe(self, ws: ClientConnection, channel: str, symbol: str | None) -> None:
        body: dict[str, Any] = {"channel": channel}
        if symbol:
            body["symbol"] = symbol
        await ws.send(json.dumps({"subscribe": body}))

    async def _open(self) -> ClientConnection:
        if self.credentials_source is not None:
            self.credentials = self.credentials_source()
        ws = await self.connector(self.url)
        if self.credentials is not None:
            auth: dict[str, Any] = {"token": self.credentials.token}
            if self.user_channels:
                auth["streams"] = [{"channel": c} for c in self.user_channels]
            await ws.send(json.dumps({"auth": auth}))
            reply = await self._await_auth(ws)
            if isinstance(reply, StreamError):
                await ws.close()
                kind = errors.AuthenticationError if reply.code == 401 else errors.BadRequestError
                raise kind(str(reply), status=reply.code, endpoint="ws-stream auth")
            data = reply.get("data") or {}
            if data.get("code") not in AUTH_OK_CODES:
                await ws.close()
                raise errors.AuthenticationError(
                    str(data.get("msg") or data.get("message") or "stream auth refused"),
                    endpoint="ws-stream auth",
                )
        for channel, symbol in self.subscriptions:
            await self._send_subscribe(ws, channel, symbol)
        return ws

    async def _await_auth(self, ws: ClientConnection) -> dict[str, Any] | StreamError:
        """The auth reply, or the error the server answered our auth frame with."""
        async with asyncio.timeout(15):
            while True:
                message = _decode(await ws.recv())
                refused = _stream_error(message, self._secrets())
                if refused is not None:
                    return refused
                if isinstance(message, dict) and message.get("channel") == "auth":
                    return message

    def _secrets(self) -> tuple[str, ...]:
        return (self.credentials.token,) if self.credentials is not None else ()

    def _track(self, message: StreamMessage | StreamError) -> SeqGap | None:
        if not isinstance(message, StreamMessage) or message.seq is None:
            return None
        scope = message.channel if self.seq_scope == "channel" else ""
        last = self._seq.get(scope)
        self._seq[scope] = message.seq
        if last is not None and message.seq > last + 1:
            return SeqGap(message.channel, last + 1, message.seq)
        return None

    async def events(self) -> AsyncIterator[StreamEvent]:
        attempt = 0
        connected_once = False
        reason = "first connection"
        while not self._closed:
            try:
                ws = self._ws = await self._open()
            except errors.AuthenticationError:
                raise
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                attempt += 1
                reason = type(exc).__name__
                await self.sleep(backoff(attempt))
                continue
            self._seq.clear()
            if connected_once or self.announce_connect:
                yield Reconnected(attempt=attempt, reason=reason)
            connected_once, attempt = True, 0
            opened = time.monotonic()
            age_limit = self._connection_age_limit()
            try:
                while not self._closed:
                    if time.monotonic() - opened > age_limit:
                        reason = "rotated before the 24 h limit or the token's expiry"
                        break
                    # A quiet stream waits for data no longer than its connection may live.
                    left = age_limit - (time.monotonic() - opened)
                    try:
                        async with asyncio.timeout(max(0.01, min(self.stale_after, left))):
                            raw = await ws.recv()
                    except TimeoutError:
                        if left < self.stale_after:
                            continue  # the age check above rotates it
                        reason = f"no data for {self.stale_after:.0f} s"
                        break
                    for item in _messages(raw, self._secrets()):
                        gap = self._track(item)
                        if gap is not None:
                            yield gap
                        yield item
            except (OSError, websockets.WebSocketException) as exc:
                reason = type(exc).__name__
                attempt += 1
                await self.sleep(backoff(attempt))
            finally:
                self._ws = None
                with contextlib.suppress(Exception):
                    await ws.close()


def _decode(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _stream_error(message: Any, secrets: tuple[str, ...]) -> StreamError | None:
    """A refusal in either shape: top-level ``{code, message}`` or channel "error"."""
    if not isinstance(message, dict):
        return None
    if message.get("channel") == "error" and isinstance(message.get("data"), dict):
        body = message["data"]
    elif "channel" not in message and "code" in message:
        body = message
    else:
        return None
    code = body.get("code")
    text = str(body.get("message") or body.get("msg") or "")
    return StreamError(code if isinstance(code, int) else -1, redact(text, secrets))


def _messages(raw: str | bytes, secrets: tuple[str, ...] = ()) -> list[StreamMessage | StreamError]:
    message = _decode(raw)
    refused = _stream_error(message, secrets)
    if refused is not None:
        return [refused]
    if not isinstance(message, dict) or "channel" not in message:
        return []
    seq = message.get("seq")
    return [
        StreamMessage(
            channel=str(message["channel"]),
            data=message.get("data"),
            seq=seq if isinstance(seq, int) else None,
            symbol=message.get("symbol") if isinstance(message.get("symbol"), str) else None,
        )
    ]


@dataclass(frozen=True)
class OrderResponse:
    """``code`` 0 is success; ``status`` "accepted" marks an interim answer."""

    code: int
    message: str
    request_id: str | None
    status: str | None = None

    @property
    def ok(self) -> bool:
        return self.code in (0, 200, 202)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> OrderResponse:
        code = data.get("code")
        return cls(
            code=code if isinstance(code, int) else -1,
            message=str(data.get("message") or data.get("msg") or ""),
            request_id=data.get("request_id") if isinstance(data.get("request_id"), str) else None,
            status=data.get("status") if isinstance(data.get("status"), str) else None,
        )


class OrderResponseStream:
    """One authenticated ``/ws-api/v1`` session. Use as ``async with``."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        session_id: str | None = None,
        connector: Connector = _default_connect,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.session_id = session_id or str(uuid.uuid4())
        self.timeout = timeout
        self._connector = connector
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[OrderResponse]] = {}
        self._pushed: asyncio.Queue[OrderResponse] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self.opened_at = 0.0

    async def __aenter__(self) -> OrderResponseStream:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self._ws = await self._connector(self.url)
        self.opened_at = time.monotonic()
        self._reader = asyncio.create_task(self._read(self._ws))
        response = await self._call("auth:login", json.dumps({"token": self.credentials.token}))
        if not response.ok:
            await self.close()
            raise errors.AuthenticationError(
                response.message or "order stream login refused", endpoint="ws-api auth:login"
            )

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_pending("the order stream was closed")
        self._ws = None

    @property
    def needs_rotation(self) -> bool:
        return time.monotonic() - self.opened_at > MAX_CONNECTION_AGE_S

    def _fail_pending(self, why: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(errors.UnavailableError(why))
        self._pending.clear()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                data = _decode(raw)
                if not isinstance(data, dict):
                    continue
                response = OrderResponse.parse(data)
                future = self._pending.get(response.request_id or "")
                # An interim "accepted" does not settle a request; the final answer does.
                if future is not None and response.status != "accepted" and not future.done():
                    future.set_result(response)
                    self._pending.pop(response.request_id or "", None)
                else:
                    self._pushed.put_nowait(response)
        except websockets.WebSocketException:
            pass
        finally:
            # Never replay in-flight orders: fail them; the caller re-queries by cl_ord_id.
            self._fail_pending("the order stream disconnected")

    async def _call(
        self, method: str, params: str, header: dict[str, str] | None = None
    ) -> OrderResponse:
        if self._ws is None:
            raise errors.UnavailableError("the order stream is not connected")
        request_id = str(uuid.uuid4())
        future: asyncio.Future[OrderResponse] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        envelope: dict[str, Any] = {
            "session_id": self.session_id,
            "request_id": request_id,
            "method": method,
            "params": params,
        }
        if header is not None:
            envelope["header"] = header
        await self._ws.send(json.dumps(envelope))
        try:
            async with asyncio.timeout(self.timeout):
                return await future
        except TimeoutError:
            self._pending.pop(request_id, None)
            raise errors.RequestTimeoutError(f"{method}: no answer in time") from None

    async def _signed(self, method: str, params: dict[str, Any]) -> OrderResponse:
        key = self.credentials.signing_key
        if key is None:
            raise errors.ForbiddenError("this account is linked read-only (no signing key)")
        body = encode_body(params)
        return await self._call(method, body.decode(), signed_headers(key, body))

    async def new_order(self, params: dict[str, Any]) -> OrderResponse:
        """``order:new`` with the same parameters as HTTP ``new_order`` (decimals as strings)."""
        return await self._signed("order:new", params)

    async def cancel_order(self, params: dict[str, Any]) -> OrderResponse:
        return await self._signed("order:cancel", params)

    async def next_pushed(self, timeout: float | None = None) -> OrderResponse:
        """The next result pushed for this session (e.g. of an HTTP order with x-session-id)."""
        async with asyncio.timeout(timeout):
            return await self._pushed.get()
