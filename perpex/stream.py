"""The PerpEx WebSocket (asyncio): auth, subscriptions, heartbeat and reconnection.

:meth:`PerpExStream.events` yields messages until :meth:`close`. It authenticates with the API
key when one is given (needed for ``positions``), keeps at most 10 subscriptions per connection
(the reference's limit: the 11th is refused here, before the venue refuses it), answers the
server's ``{"type": "ping"}`` with ``{"op": "pong"}`` (protocol ping frames are answered by the
websockets library), and after a drop reconnects with exponential backoff 1 s, 2 s, 4 s ... 30 s,
re-authenticates, resubscribes and yields :class:`Reconnected` so the caller resyncs over REST.
A refusal of something we sent comes back as :class:`StreamError`; the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from exchange_common.errors import redact
from perpex import errors
from perpex.keys import ApiKey
from perpex.models import error_fields

CHANNELS = ("trades", "orderbook", "candles", "positions")
PRIVATE_CHANNELS = ("positions",)
MAX_SUBSCRIPTIONS = 10
# The server pings after 30 s of silence; a minute without any frame means the link is dead.
STALE_AFTER_S = 65.0
CONTROL_TYPES = ("subscribed", "unsubscribed", "pong", "auth", "welcome", "info")

Connector = Callable[[str], Awaitable[ClientConnection]]


async def _default_connect(url: str) -> ClientConnection:
    return await connect(url, ping_interval=20, ping_timeout=20, open_timeout=10, max_size=2**22)


def backoff(attempt: int, *, first: float = 1.0, cap: float = 30.0, jitter: float = 0.2) -> float:
    """1 s, 2 s, 4 s ... capped at 30 s; ``jitter`` spreads each delay upward by up to that
    fraction (still within the cap) so many clients do not reconnect in step."""
    base = min(cap, first * 2 ** max(0, attempt - 1))
    return min(cap, base * (1 + jitter * random.random()))  # noqa: S311 - jitter, not cryptography


@dataclass(frozen=True)
class Subscription:
    channel: str
    symbol: str | None = None
    interval: str | None = None  # candles
    depth: int | None = None  # orderbook

    def frame(self, op: str) -> dict[str, Any]:
        body: dict[str, Any] = {"op": op, "channel": self.channel}
        for name in ("symbol", "interval", "depth"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        return body


@dataclass(frozen=True)
class StreamMessage:
    channel: str
    data: Any
    symbol: str | None = None
    interval: str | None = None
    snapshot: bool = False


@dataclass(frozen=True)
class Reconnected:
    """The connection is back (re-authenticated, resubscribed): resync over REST."""

    attempt: int
    reason: str


@dataclass(frozen=True)
class StreamError:
    """The venue refused something we sent. ``str()`` is plain words; never holds the key."""

    code: str
    message: str

    def __str__(self) -> str:
        why = self.message or "no reason given"
        return f"The PerpEx stream refused a request ({self.code or 'no code'}): {why}"


StreamEvent = StreamMessage | Reconnected | StreamError


@dataclass
class PerpExStream:
    url: str
    api_key: ApiKey | None = None
    max_subscriptions: int = MAX_SUBSCRIPTIONS
    stale_after: float = STALE_AFTER_S
    connector: Connector = _default_connect
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    jitter: float = 0.2
    subscriptions: list[Subscription] = field(default_factory=list)
    _ws: ClientConnection | None = field(default=None, init=False, repr=False)
    _closed: bool = field(default=False, init=False)

    def __repr__(self) -> str:
        count = len(self.subscriptions)
        return f"PerpExStream(url={self.url!r}, {self.api_key!r}, subscriptions={count})"

    @property
    def room(self) -> int:
        return self.max_subscriptions - len(self.subscriptions)

    def subscribe(
        self,
        channel: str,
        symbol: str | None = None,
        *,
        interval: str | None = None,
        depth: int | None = None,
    ) -> Subscription:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
        if channel in PRIVATE_CHANNELS and self.api_key is None:
            raise ValueError(f"the {channel} channel needs an API key")
        if channel != "positions" and not symbol:
            raise ValueError(f"the {channel} channel needs a symbol")
        sub = Subscription(
            channel,
            symbol,
            interval if channel == "candles" else None,
            depth if channel == "orderbook" else None,
        )
        if sub in self.subscriptions:
            return sub
        if self.room <= 0:
            raise errors.SubscriptionLimitError(
                f"a PerpEx connection holds at most {self.max_subscriptions} subscriptions; "
                "open another stream for more"
            )
        self.subscriptions.append(sub)
        self._send_soon(sub.frame("subscribe"))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self.subscriptions:
            self.subscriptions.remove(sub)
            self._send_soon(sub.frame("unsubscribe"))

    def _send_soon(self, frame: dict[str, Any]) -> None:
        if self._ws is not None:
            asyncio.ensure_future(self._ws.send(json.dumps(frame)))  # noqa: RUF006

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def _open(self) -> ClientConnection:
        ws = await self.connector(self.url)
        if self.api_key is not None:
            await ws.send(json.dumps({"op": "auth", "token": self.api_key.token}))
            async with asyncio.timeout(15):
                while True:
                    message = _decode(await ws.recv())
                    if not isinstance(message, dict):
                        continue
                    kind = str(message.get("type") or message.get("event") or "").lower()
                    if kind == "error":
                        await ws.close()
                        code, text = error_fields(message)
                        raise errors.AuthenticationError(
                            redact(text or "stream auth refused", (self.api_key.token,)),
                            code=code,
                            endpoint="ws auth",
                        )
                    if kind in ("auth", "authenticated", "login"):
                        break
        for sub in self.subscriptions:
            await ws.send(json.dumps(sub.frame("subscribe")))
        return ws

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
                await self.sleep(backoff(attempt, jitter=self.jitter))
                continue
            if connected_once:
                yield Reconnected(attempt, reason)
            connected_once, attempt = True, 0
            try:
                while not self._closed:
                    try:
                        async with asyncio.timeout(self.stale_after):
                            raw = await ws.recv()
                    except TimeoutError:
                        reason = f"no frame for {self.stale_after:.0f} s"
                        break
                    event = self._read(raw)
                    if isinstance(event, str):
                        await ws.send(json.dumps({"op": "pong"}))
                    elif event is not None:
                        yield event
                if not self._closed:
                    attempt += 1
                    await self.sleep(backoff(attempt, jitter=self.jitter))
            except (OSError, websockets.WebSocketException) as exc:
                reason = f"{type(exc).__name__}{_close_code(exc)}"
                attempt += 1
                await self.sleep(backoff(attempt, jitter=self.jitter))
            finally:
                self._ws = None
                with contextlib.suppress(Exception):
                    await ws.close()

    def _read(self, raw: str | bytes) -> StreamEvent | str | None:
        message = _decode(raw)
        if not isinstance(message, dict):
            return None
        kind = str(message.get("type") or "").lower()
        if kind == "ping" or message.get("op") == "ping":
            return "ping"
        if kind == "error":
            code, text = error_fields(message)
            return StreamError(code, redact(text, (self.api_key.token,) if self.api_key else ()))
        channel = message.get("channel") or message.get("topic")
        if not isinstance(channel, str) or kind in CONTROL_TYPES:
            return None
        symbol, interval = message.get("symbol"), message.get("interval")
        return StreamMessage(
            channel=channel,
            data=message.get("data"),
            symbol=symbol if isinstance(symbol, str) else None,
            interval=interval if isinstance(interval, str) else None,
            snapshot=message.get("snapshot") is True,
        )


def _decode(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _close_code(exc: Exception) -> str:
    received = getattr(exc, "rcvd", None)
    code = getattr(received, "code", None)
    return f" (close code {code})" if code else ""
