"""OCX's private streams over server-sent events (asyncio).

``GET /perps/stream/user`` (fills and positions, every market), ``/perps/stream/events``
(one market, with its book) and ``/portfolio/balances/stream``. Each connection sends a
snapshot, then deltas (or updates), every ``data:`` an envelope ``{eventId, eventType,
eventSeq, engineTs, sourceTs, payload}`` with ``eventSeq`` counting up by one, and a
``:heartbeat`` comment every ~15 s (docs.ocx.global ``api-reference/websockets``).

:meth:`EventStream.events` yields :class:`Envelope`, :class:`Heartbeat`, :class:`Gap` and
:class:`Reconnected` forever. On a sequence gap it drops the connection and reconnects at
once, so the next envelope is a fresh snapshot (the docs' recovery); on a drop, a silence
longer than ``stale_after`` or a 5xx it reconnects with backoff. A 401/403 is not retried: it
raises :class:`~ocx.errors.AuthExpiredError` / :class:`~ocx.errors.ForbiddenError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from exchange_common.errors import redact
from ocx import errors, models
from ocx.auth import ApiKey, Session

STALE_AFTER_S = 45.0  # three missed heartbeats


@dataclass(frozen=True)
class Envelope:
    event: str  # "snapshot", "delta" or "update"
    event_id: str
    event_type: str
    seq: int
    engine_ts: datetime | None
    payload: Any


@dataclass(frozen=True)
class Heartbeat:
    pass


@dataclass(frozen=True)
class Gap:
    """``eventSeq`` jumped from ``expected`` to ``got``: the stream is being re-snapshotted."""

    expected: int
    got: int


@dataclass(frozen=True)
class Reconnected:
    attempt: int
    reason: str


StreamEvent = Envelope | Heartbeat | Gap | Reconnected


@dataclass(frozen=True)
class UserSnapshot:
    positions: tuple[models.Position, ...]
    orders: tuple[models.Order, ...]
    trades: tuple[models.Fill, ...]

    @classmethod
    def parse(cls, payload: Any) -> UserSnapshot:
        if not isinstance(payload, dict):
            raise errors.BadResponseError("snapshot: expected an object")
        return cls(
            tuple(models.items(payload.get("positions") or [], models.Position.parse, "positions")),
            tuple(models.items(payload.get("orders") or [], models.Order.parse, "orders")),
            tuple(models.items(payload.get("trades") or [], models.Fill.parse, "trades")),
        )


@dataclass(frozen=True)
class UserDelta:
    trades: tuple[models.Fill, ...]
    positions: tuple[models.Position, ...]  # upserts (a closed one has its final status)
    removed_position_ids: tuple[str, ...]
    orders: tuple[models.Order, ...]
    removed_order_ids: tuple[str, ...]

    @classmethod
    def parse(cls, payload: Any) -> UserDelta:
        if not isinstance(payload, dict):
            raise errors.BadResponseError("delta: expected an object")

        def part(name: str) -> dict[str, Any]:
            value = payload.get(name)
            if isinstance(value, list):  # a bare list of upserts
                return {"upserts": value}
            return value if isinstance(value, dict) else {}

        positions, orders = part("positions"), part("orders")
        return cls(
            tuple(models.items(payload.get("trades") or [], models.Fill.parse, "trades")),
            tuple(models.items(positions.get("upserts") or [], models.Position.parse, "upserts")),
            tuple(str(i) for i in positions.get("removedIds") or []),
            tuple(models.items(orders.get("upserts") or [], models.Order.parse, "upserts")),
            tuple(str(i) for i in orders.get("removedIds") or []),
        )


def parse_envelope(event: str, data: str) -> Envelope:
    try:
        body = json.loads(data)
    except ValueError:
        raise errors.BadResponseError("stream: a data line is not JSON") from None
    if not isinstance(body, dict):
        raise errors.BadResponseError("stream: the envelope is not an object")
    seq = body.get("eventSeq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise errors.BadResponseError("stream: eventSeq is not an integer")
    ts = body.get("engineTs")
    engine_ts = models.parse_time(ts, "engineTs") if ts not in (None, "") else None
    return Envelope(
        event or "message",
        str(body.get("eventId") or ""),
        str(body.get("eventType") or ""),
        seq,
        engine_ts,
        body.get("payload"),
    )


def backoff(attempt: int, *, first: float, cap: float = 30.0) -> float:
    base = min(cap, first * 2 ** max(0, attempt - 1))
    return float(base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not cryptography


class _Restart(Exception):
    def __init__(self, reason: str, immediate: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.immediate = immediate


class EventStream:
    """One private stream, reconnected as needed. ``session`` or ``api_key`` authenticates."""

    def __init__(
        self,
        base_url: str,
        path: str = "/perps/stream/user",
        *,
        params: dict[str, str] | None = None,
        session: Session | None = None,
        api_key: ApiKey | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        stale_after: float = STALE_AFTER_S,
        first_backoff: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if session is None and api_key is None:
            raise ValueError("a private stream needs a session or an API key")
        self.url = base_url.rstrip("/") + path
        self.params = params or {}
        self.session = session
        self.api_key = api_key
        self.stale_after = stale_after
        self.first_backoff = first_backoff
        self._transport = transport
        self._sleep = sleep
        self._closed = False
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"EventStream({self.url!r}, session={self.session!r}, api_key={self.api_key!r})"

    def _headers(self) -> dict[str, str]:
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if self.api_key is not None:
            headers["x-api-key"] = self.api_key.secret
        elif self.session is not None:
            headers["authorization"] = f"Bearer {self.session.token}"
        return headers

    def _secrets(self) -> tuple[str, ...]:
        found = (
            self.session.token if self.session else "",
            self.api_key.secret if self.api_key else "",
        )
        return tuple(s for s in found if s)

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.aclose()

    async def events(self) -> AsyncIterator[StreamEvent]:
        attempt = 0
        reason = ""
        self._client = httpx.AsyncClient(
            transport=self._transport, timeout=httpx.Timeout(10.0, read=None)
        )
        try:
            while not self._closed:
                try:
                    async for event in self._connection(attempt, reason):
                        if isinstance(event, Envelope):
                            attempt = 0
                        yield event
                    reason, immediate = "the server closed the stream", False
                except _Restart as restart:
                    reason, immediate = restart.reason, restart.immediate
                except (httpx.HTTPError, errors.ServerError, errors.BadResponseError) as exc:
                    reason, immediate = type(exc).__name__, False
                if self._closed:
                    return
                attempt += 1
                if not immediate:
                    await self._sleep(backoff(attempt, first=self.first_backoff))
        finally:
            with contextlib.suppress(Exception):
                await self._client.aclose()

    async def _connection(self, attempt: int, reason: str) -> AsyncIterator[StreamEvent]:
        assert self._client is not None
        async with self._client.stream(
            "GET", self.url, params=self.params, headers=self._headers()
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                message = redact(response.text[:200], self._secrets())
                raise errors.map_error(response.status_code, message, endpoint=self.url)
            if attempt:
                yield Reconnected(attempt, reason)
            last: int | None = None
            event, data = "", []
            lines = response.aiter_lines()
            while True:
                try:
                    line = await asyncio.wait_for(anext(lines), timeout=self.stale_after)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise _Restart(f"no data for {self.stale_after:.0f} s") from None
                if line.startswith(":"):
                    if "heartbeat" in line:
                        yield Heartbeat()
                    continue
                if line:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "event":
                        event = value
                    elif name == "data":
                        data.append(value)
                    continue
                if not data:
                    event = ""
                    continue
                text, kind = "\n".join(data), event
                event, data = "", []
                if kind == "error":
                    raise _Restart(
                        f"the stream reported an error: {redact(text, self._secrets())[:120]}"
                    )
                envelope = parse_envelope(kind, text)
                if last is None and kind not in ("snapshot", "message"):
                    raise _Restart("the stream did not start with a snapshot", immediate=True)
                if last is not None and envelope.seq != last + 1:
                    yield Gap(last + 1, envelope.seq)
                    raise _Restart("a sequence gap", immediate=True)
                last = envelope.seq
                yield envelope
