"""The only module that publishes to the channel layer.

Callers publish after their transaction commits (``transaction.on_commit``): the database is the
source of truth and the layer only notifies, at most once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    # Channels group names: [A-Za-z0-9-_.], fewer than 100 characters.
    return f"live.user.{user_id}"


def publish_to_user(user_id: int, payload: dict[str, Any]) -> None:
    """Send ``payload`` (JSON primitives only) to every open tab of one user, after commit."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:  # pragma: no cover - CHANNEL_LAYERS is always configured
            return
        async_to_sync(layer.group_send)(
            user_group(user_id), {"type": "live.event", "payload": payload}
        )

    transaction.on_commit(send)


PORTFOLIO_MIN_GAP_S = 1.0
_last_portfolio: dict[int, float] = {}


def publish_portfolio_changed(user_ids: Iterable[int]) -> None:
    """Tell these users' open pages that their numbers changed (a sync stored something or a
    mark moved a position), so the pages re-read them. At most once a second per user and per
    process: the price stream can move a thousand accounts at once, and pages also catch up on
    their own every few seconds."""
    now = time.monotonic()
    due = [
        u
        for u in set(user_ids)
        if now - _last_portfolio.get(u, float("-inf")) >= PORTFOLIO_MIN_GAP_S
    ]
    if not due:
        return
    for user_id in due:
        _last_portfolio[user_id] = now

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:  # pragma: no cover - CHANNEL_LAYERS is always configured
            return
        event = {"type": "live.event", "payload": {"type": "portfolio"}}

        async def send_all() -> None:
            for user_id in due:
                await layer.group_send(user_group(user_id), event)

        async_to_sync(send_all)()

    transaction.on_commit(send)
