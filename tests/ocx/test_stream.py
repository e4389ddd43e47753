"""The SSE user stream against the simulator: snapshot, deltas, heartbeats, gaps, drops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ocx.auth import ApiKey
from ocx.rest import OCXClient
from ocx.stream import (
    Envelope,
    EventStream,
    Gap,
    Heartbeat,
    Reconnected,
    StreamEvent,
    UserDelta,
    UserSnapshot,
)
from tests.ocx.conftest import sim_control


async def _take(events: AsyncIterator[StreamEvent], until: Any, timeout: float = 8) -> list[Any]:
    seen: list[Any] = []

    async def run() -> None:
        async for event in events:
            seen.append(event)
            if until(seen):
                return

    await asyncio.wait_for(run(), timeout)
    return seen


def _stream(url: str, wallet: dict[str, Any]) -> EventStream:
    return EventStream(url, api_key=ApiKey(wallet["read_api_key"]), first_backoff=0.05)


async def test_it_starts_with_a_snapshot_then_folds_in_deltas_in_sequence(
    alice: OCXClient, quiet_sim: str, alice_wallet: dict[str, Any]
) -> None:
    alice.place_order("ETH-PERP", "buy", "0.5", order_type="market")
    stream = _stream(quiet_sim, alice_wallet)
    events = stream.events()
    (first,) = await _take(events, lambda s: len(s) == 1)
    assert isinstance(first, Envelope)
    assert (first.event, first.event_type, first.seq) == ("snapshot", "PerpStreamSnapshot", 1)
    snapshot = UserSnapshot.parse(first.payload)
    assert [p.market_id for p in snapshot.positions] == ["ETH-PERP"]
    await asyncio.to_thread(alice.place_order, "ETH-PERP", "sell", "0.5", order_type="market")
    deltas = await _take(events, lambda s: any(isinstance(e, Envelope) for e in s))
    delta = next(e for e in deltas if isinstance(e, Envelope))
    assert (delta.event, delta.seq) == ("delta", 2)
    parsed = UserDelta.parse(delta.payload)
    assert [t.side for t in parsed.trades] == ["sell"]
    assert parsed.removed_position_ids == (snapshot.positions[0].id,)
    assert parsed.positions[0].status == "closed"
    await stream.close()


async def test_it_passes_heartbeats_on(quiet_sim: str, alice_wallet: dict[str, Any]) -> None:
    sim_control(quiet_sim, "POST", "/sim/streams", {"heartbeat_s": 0.2})
    stream = _stream(quiet_sim, alice_wallet)
    seen = await _take(stream.events(), lambda s: isinstance(s[-1], Heartbeat))
    assert isinstance(seen[0], Envelope)
    await stream.close()


async def test_a_sequence_gap_brings_a_fresh_snapshot(
    alice: OCXClient, quiet_sim: str, alice_wallet: dict[str, Any]
) -> None:
    stream = _stream(quiet_sim, alice_wallet)
    events = stream.events()
    await _take(events, lambda s: len(s) == 1)
    sim_control(quiet_sim, "POST", "/sim/faults", {"sse_gap": True})
    await asyncio.to_thread(alice.place_order, "SOL-PERP", "buy", "1", order_type="market")
    seen = await _take(events, lambda s: isinstance(s[-1], Envelope))
    gap = next(e for e in seen if isinstance(e, Gap))
    assert (gap.expected, gap.got) == (2, 3)
    assert any(isinstance(e, Reconnected) for e in seen)
    fresh = seen[-1]
    assert (fresh.event, fresh.seq) == ("snapshot", 1)
    assert [p.market_id for p in UserSnapshot.parse(fresh.payload).positions] == ["SOL-PERP"]
    await stream.close()


async def test_a_dropped_stream_reconnects_and_resnapshots(
    quiet_sim: str, alice_wallet: dict[str, Any]
) -> None:
    stream = _stream(quiet_sim, alice_wallet)
    events = stream.events()
    await _take(events, lambda s: len(s) == 1)
    sim_control(quiet_sim, "POST", "/sim/faults", {"drop_sse": True})
    seen = await _take(events, lambda s: isinstance(s[-1], Envelope))
    assert isinstance(seen[0], Reconnected)
    assert seen[-1].event == "snapshot"
    await stream.close()
