"""Server-sent events: the private user streams, diffed server-side.

``GET /perps/stream/user`` (every market; ``openOnly``), ``GET /perps/stream/events?marketId=``
(one market, with its book in the snapshot) and ``GET /portfolio/balances/stream``. Each
connection sends ``event: snapshot`` first, then ``event: delta`` (balances: ``event: update``)
whenever its account changed, each ``data:`` a canonical envelope ``{eventId, eventType,
eventSeq, engineTs, sourceTs, correlationId, causationId, payload}`` with ``eventSeq`` counting
up by one per event on that connection (the SSE ``id:`` too), and a ``:heartbeat`` comment when
nothing was sent for ``heartbeat_s`` (15 s; ``POST /sim/streams`` shortens it for tests).

A delta's payload: ``{"trades": [new fills], "positions": {"upserts": [...], "removedIds":
[...]}, "orders": {"upserts": [...], "removedIds": [...]}}``; a position or order that closed is
sent once more as an upsert with its final status, and its id is in ``removedIds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from ocx_sim.accounts import Account

SNAPSHOT_TRADES = 50


class Connection:
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.event = asyncio.Event()
        self.closed = False
        self.gap = False


class Hub:
    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self.heartbeat_s = 15.0

    def notify(self, user_ids: Iterable[str]) -> None:
        users = set(user_ids)
        for conn in self.connections:
            if conn.user_id in users:
                conn.event.set()

    def gap_all(self) -> int:
        for conn in self.connections:
            conn.gap = True
        return len(self.connections)

    def drop_all(self) -> int:
        for conn in self.connections:
            conn.closed = True
            conn.event.set()
        return len(self.connections)


def envelope(event_type: str, seq: int, payload: Any, now_ms: int) -> dict[str, Any]:
    return {
        "eventId": f"{event_type}-{seq}-{now_ms}",
        "eventType": event_type,
        "eventSeq": seq,
        "engineTs": now_ms,
        "sourceTs": None,
        "correlationId": None,
        "causationId": None,
        "payload": payload,
    }


def frame(event: str, body: dict[str, Any]) -> str:
    return f"id: {body['eventSeq']}\nevent: {event}\ndata: {json.dumps(body)}\n\n"


State = dict[str, dict[str, Any]]


def _changes(
    before: dict[str, Any], after: dict[str, Any], final: Callable[[str], Any]
) -> dict[str, list[Any]]:
    upserts = [view for key, view in after.items() if before.get(key) != view]
    removed = [key for key in before if key not in after]
    upserts += [v for v in (final(key) for key in removed) if v is not None]
    return {"upserts": upserts, "removedIds": removed}


async def account_stream(
    hub: Hub,
    account: Account,
    *,
    event_types: tuple[str, str],
    names: tuple[str, str],
    capture: Callable[[], State],
    snapshot: Callable[[State], Any],
    delta: Callable[[State, State], Any | None],
    clock_ms: Callable[[], int],
) -> AsyncIterator[str]:
    """A snapshot, then a delta whenever ``capture()`` differs from what was last sent."""
    conn = Connection(account.user_id)
    hub.connections.add(conn)
    try:
        seq = 1
        state = capture()
        yield frame(names[0], envelope(event_types[0], seq, snapshot(state), clock_ms()))
        last_sent = time.monotonic()
        while not conn.closed:
            wait = max(0.01, hub.heartbeat_s - (time.monotonic() - last_sent))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.event.wait(), timeout=wait)
            conn.event.clear()
            if conn.closed:
                return
            new = capture()
            payload = delta(state, new)
            if payload is not None:
                seq += 2 if conn.gap else 1
                conn.gap = False
                yield frame(names[1], envelope(event_types[1], seq, payload, clock_ms()))
                state, last_sent = new, time.monotonic()
            elif time.monotonic() - last_sent >= hub.heartbeat_s:
                yield ":heartbeat\n\n"
                last_sent = time.monotonic()
    finally:
        hub.connections.discard(conn)


def perps_delta(
    final_position: Callable[[str], Any], final_order: Callable[[str], Any]
) -> Callable[[State, State], Any | None]:
    def delta(before: State, after: State) -> Any | None:
        trades = [t for key, t in after["trades"].items() if key not in before["trades"]]
        positions = _changes(before["positions"], after["positions"], final_position)
        orders = _changes(before["orders"], after["orders"], final_order)
        if not trades and not positions["upserts"] and not orders["upserts"]:
            return None
        return {"trades": trades, "positions": positions, "orders": orders}

    return delta
