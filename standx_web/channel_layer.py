"""The Redis channel layer, with a receive that always ends once it is cancelled.

On Python 3.11, ``asyncio.wait_for`` swallows a cancellation that lands in the loop iteration in
which its inner task finishes (gh-86296, fixed in 3.12), and redis-py wraps every write in it
when a socket timeout is set. A consumer that goes away cancels its channel-layer receive; if
that cancellation is swallowed, channels_redis's receive goes on issuing 5 s blocking pops for
a channel no one reads, forever, and whoever awaits the cancelled task (Channels'
``await_many_dispatch``, an event loop shutting down) waits with it.
"""

from __future__ import annotations

import asyncio

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer


class RedisChannelLayer(_RedisChannelLayer):
    async def _brpop_with_clean(self, index: int, channel: str, timeout: float) -> object:
        member = await super()._brpop_with_clean(index, channel, timeout)
        # An empty pop means the receive loop would block again; a task that was asked to stop
        # (``cancelling()`` counts requests that nothing has taken back) stops here instead.
        # A popped message is returned: the receive ends with it, and nothing is left in the
        # channel's in-flight backup.
        task = asyncio.current_task()
        if member is None and task is not None and task.cancelling():
            raise asyncio.CancelledError
        return member
