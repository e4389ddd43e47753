"""MarketStream's reconnect, re-auth, resubscribe and seq-gap logic with in-process sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosedError

from standx import errors
from standx.rest import Credentials
from standx.stream import (
    MarketStream,
    Reconnected,
    SeqGap,
    StreamError,
    StreamMessage,
    backoff,
)
from tests.standx.test_errors import token


class FakeSocket:
    """Plays back frames, then drops (or idles), recording what the client sent."""

    def __init__(
        self, frames: list[dict[str, Any]], *, drop: bool = True, delay: float = 0.0
    ) -> None:
        self.frames = [json.dumps(f) for f in frames]
        self.delay = delay
        self.sent: list[dict[str, Any]] = []
        self.drop = drop
        self.closed = False

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def recv(self) -> str:
        if self.frames:
            await asyncio.sleep(self.delay)
            return self.frames.pop(0)
        if self.drop:
            raise ConnectionClosedError(None, None)
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        self.closed = True


AUTH_OK = {"seq": 1, "channel": "auth", "data": {"code": 200, "msg": "success"}}


def order(seq: int) -> dict[str, Any]:
    return {"seq": seq, "channel": "order", "data": {"id": seq}}


async def collect(stream: MarketStream, count: int) -> list[Any]:
    out: list[Any] = []
    async with asyncio.timeout(5):
        async for event in stream.events():
            out.append(event)
            if len(out) == count:
                await stream.close()
                break
    return out


async def test_it_reports_seq_gaps_and_resubscribes_after_a_drop() -> None:
    sockets = [
        FakeSocket([AUTH_OK, order(2), order(3), order(6)]),
        FakeSocket([AUTH_OK, order(1)], drop=False),
    ]
    slept: list[float] = []

    async def connector(url: str) -> Any:
        return sockets.pop(0)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    first, second = sockets
    stream = MarketStream(
        "ws://exchange.test/ws-stream/v1",
        credentials=Credentials(token()),
        user_channels=("order",),
        connector=connector,
        sleep=sleep,
    )
    stream.subscribe("price", "BTC-USD")
    events = await collect(stream, 6)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "StreamMessage",
        "StreamMessage",
        "SeqGap",
        "StreamMessage",
        "Reconnected",
        "StreamMessage",
    ]
    gap = events[2]
    assert gap == SeqGap("order", expected=4, got=6)
    assert isinstance(events[4], Reconnected)
    # After reconnecting, seq starts again: no false gap for seq 1 on a new connection.
    assert isinstance(events[5], StreamMessage)
    assert events[5].seq == 1
    for sock in (first, second):
        assert sock.sent[0]["auth"]["streams"] == [{"channel": "order"}]
        assert sock.sent[1] == {"subscribe": {"channel": "price", "symbol": "BTC-USD"}}
    assert slept
    assert 0.8 <= slept[0] <= 1.2  # the first backoff is about a second


async def test_a_refused_stream_auth_is_an_authentication_error_not_a_retry_loop() -> None:
    refused = {"seq": 1, "channel": "auth", "data": {"code": 401, "msg": "invalid token"}}

    async def connector(url: str) -> Any:
        return FakeSocket([refused])

    stream = MarketStream(
        "ws://x",
        credentials=Credentials(token()),
        connector=connector,
    )
    with pytest.raises(errors.AuthenticationError, match="invalid token"):
        await collect(stream, 1)


@pytest.mark.parametrize("code", [200, 0])
async def test_it_accepts_the_stream_auth_acknowledgement_with_code_200_or_0(code: int) -> None:
    # The docs answer 200; some live clients look for 0. Both mean signed in.
    ack = {"seq": 1, "channel": "auth", "data": {"code": code, "msg": "success"}}

    async def connector(url: str) -> Any:
        return FakeSocket([ack, order(2)], drop=False)

    stream = MarketStream(
        "ws://x", credentials=Credentials(token()), user_channels=("order",), connector=connector
    )
    events = await collect(stream, 1)
    assert events == [StreamMessage("order", {"id": 2}, seq=2)]


@pytest.mark.parametrize(
    "refusal",
    [
        {"code": 400, "message": 'invalid request payload: {"ping":{}}'},
        {
            "seq": 2,
            "channel": "error",
            "data": {"code": 400, "msg": 'invalid request payload: {"ping":{}}'},
        },
    ],
)
async def test_it_reports_a_refused_frame_in_plain_words_in_either_shape(
    refusal: dict[str, Any],
) -> None:
    async def connector(url: str) -> Any:
        return FakeSocket([refusal, order(3)], drop=False)

    stream = MarketStream("ws://x", connector=connector)
    events = await collect(stream, 2)
    assert events[0] == StreamError(400, 'invalid request payload: {"ping":{}}')
    assert str(events[0]) == (
        "The StandX stream did not understand a request we sent (code 400): "
        'invalid request payload: {"ping":{}}'
    )
    assert isinstance(events[1], StreamMessage)  # the connection carries on


async def test_a_refused_auth_frame_is_an_error_in_words_without_the_token() -> None:
    creds = Credentials(token())
    echoed = json.dumps({"auth": {"token": creds.token}})
    refusal = {"code": 400, "message": f"invalid request payload: {echoed}"}

    async def connector(url: str) -> Any:
        return FakeSocket([refusal])

    stream = MarketStream("ws://x", credentials=creds, connector=connector)
    with pytest.raises(errors.BadRequestError) as caught:
        await collect(stream, 1)
    assert "The StandX stream did not understand a request we sent" in str(caught.value)
    assert creds.token not in str(caught.value)
    assert "***" in str(caught.value)


async def test_connection_failures_back_off_up_to_30_seconds() -> None:
    attempts = 0
    slept: list[float] = []

    async def connector(url: str) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts < 8:
            raise OSError("connection refused")
        return FakeSocket([{"channel": "price", "data": {"symbol": "BTC-USD"}}], drop=False)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    stream = MarketStream("ws://x", connector=connector, sleep=sleep)
    events = await collect(stream, 1)
    assert isinstance(events[0], StreamMessage)
    assert len(slept) == 7
    assert 0.8 <= slept[0] <= 1.2
    assert 24 <= slept[-1] <= 36  # 1, 2, 4 … capped at 30 s, with jitter


def test_backoff_starts_at_one_second_and_caps_at_thirty() -> None:
    assert 0.8 <= backoff(1) <= 1.2
    assert 24 <= backoff(10) <= 36


async def test_a_silent_connection_is_replaced() -> None:
    sockets = [FakeSocket([], drop=False), FakeSocket([order(1)], drop=False)]

    async def connector(url: str) -> Any:
        return sockets.pop(0)

    stream = MarketStream("ws://x", connector=connector, stale_after=0.05)
    events = await collect(stream, 2)
    assert isinstance(events[0], Reconnected)
    assert "no data" in events[0].reason


async def test_it_rotates_the_connection_before_the_24_hour_limit() -> None:
    sockets = [
        FakeSocket([order(1), order(2)], drop=False, delay=0.05),
        FakeSocket([order(1)], drop=False),
    ]

    async def connector(url: str) -> Any:
        return sockets.pop(0)

    # The second frame would come after the connection's age limit: it is rotated first.
    stream = MarketStream("ws://x", connector=connector, max_age=0.08)
    events = await collect(stream, 3)
    assert isinstance(events[1], Reconnected)
    assert "24 h" in events[1].reason


async def test_a_user_stream_numbers_gaps_over_the_whole_connection() -> None:
    frames = [
        AUTH_OK,
        order(2),
        {"seq": 3, "channel": "balance", "data": {}},
        order(4),
        {"seq": 6, "channel": "trade", "data": {}},
    ]
    sockets = [FakeSocket(frames, drop=False)]

    async def connector(url: str) -> Any:
        return sockets.pop(0)

    stream = MarketStream(
        "ws://x",
        credentials=Credentials(token()),
        user_channels=("order", "balance", "trade"),
        connector=connector,
        seq_scope="connection",
        announce_connect=True,
    )
    events = await collect(stream, 6)
    assert isinstance(events[0], Reconnected)  # announced: the caller resyncs after it
    kinds = [type(e).__name__ for e in events[1:]]
    assert kinds == ["StreamMessage"] * 3 + ["SeqGap", "StreamMessage"]
    assert events[4] == SeqGap("trade", 5, 6)


async def test_it_reopens_an_authenticated_stream_before_its_token_expires() -> None:
    import time

    soon = int(time.time()) + 301  # REAUTH_BEFORE_EXPIRY_S is 300: one second to live
    tokens = iter([token({"address": "0xalice", "exp": soon}), token()])
    sockets = [FakeSocket([AUTH_OK], drop=False), FakeSocket([AUTH_OK], drop=False)]

    async def connector(url: str) -> Any:
        return sockets.pop(0)

    stream = MarketStream(
        "ws://x",
        user_channels=("order",),
        connector=connector,
        announce_connect=True,
        credentials_source=lambda: Credentials(next(tokens)),
    )
    first, second = await collect(stream, 2)
    assert isinstance(first, Reconnected) and isinstance(second, Reconnected)
    assert "expiry" in second.reason
    assert stream.credentials is not None and stream.credentials.expires_at is not None
    assert stream.credentials.expires_at.year == 2100  # the fresh token was used


def test_it_does_not_reopen_again_and_again_a_stream_whose_token_is_about_to_expire() -> None:
    import time

    from standx.stream import MAX_CONNECTION_AGE_S

    soon = int(time.time()) + 60  # inside the re-auth margin: a new connection gains nothing
    stream = MarketStream("ws://x", credentials=Credentials(token({"sub": "0xa", "exp": soon})))
    assert stream._connection_age_limit() == MAX_CONNECTION_AGE_S
