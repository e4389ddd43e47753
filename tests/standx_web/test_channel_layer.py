"""The project's channel layer against the real Redis."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from django.conf import settings

from standx_web.channel_layer import RedisChannelLayer


def a_layer() -> RedisChannelLayer:
    config = cast(dict[str, Any], settings.CHANNEL_LAYERS["default"]["CONFIG"])
    layer = RedisChannelLayer(hosts=config["hosts"], prefix="standx:test-layer:")
    layer.brpop_timeout = 1  # one blocking pop, so a swallowed cancellation shows within 1 s
    return layer


async def test_a_cancelled_receive_ends_whenever_the_cancellation_lands() -> None:
    """Python 3.11's wait_for, around each redis-py write, drops a cancellation that lands as
    the write finishes; the sweep puts the cancellation at every step of a receive's first
    connect, its cleanup script and its blocking pop."""
    layer = a_layer()
    for steps in range(40):
        task = asyncio.ensure_future(layer.receive(await layer.new_channel()))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait([task], timeout=layer.brpop_timeout + 2)
        still_running = not task.done()
        if still_running:  # end it, so that the loop can close, before failing
            task.cancel()
            await asyncio.wait([task], timeout=layer.brpop_timeout + 2)
        assert not still_running, f"a receive cancelled after {steps} steps is still running"
        assert task.cancelled()


async def test_it_still_delivers_a_message_to_a_waiting_receive() -> None:
    layer = a_layer()
    channel = await layer.new_channel()
    task = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.1)
    await layer.send(channel, {"type": "hello", "text": "alice"})
    assert await asyncio.wait_for(task, timeout=5) == {"type": "hello", "text": "alice"}
