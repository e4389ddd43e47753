"""The only module that publishes to the channel layer.

Callers publish after their transaction commits (``transaction.on_commit``): the database is the
source of truth and the layer only notifies, at most once.
"""

from __future__ import annotations

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
