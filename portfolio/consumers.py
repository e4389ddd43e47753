"""The browser's live connection: one group per user, current state sent on connect."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.exceptions import DenyConnection
from channels.generic.websocket import JsonWebsocketConsumer

from portfolio import realtime
from portfolio.alerts import deliveries
from portfolio.alerts import evaluation as alerting
from portfolio.dashboard.selectors import live_state_for_user


class LiveConsumer(JsonWebsocketConsumer):
    """Sync consumer: it mostly talks to the ORM (Channels' advice for such consumers)."""

    group: str

    def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise DenyConnection
        self.group = realtime.user_group(user.pk)
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()
        # The channel layer is at-most-once: every (re)connect starts from the database's truth.
        self.send_json({"type": "state", "state": live_state_for_user(user)})

    def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            async_to_sync(self.channel_layer.group_discard)(self.group, self.channel_name)

    def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "ping":
            self.send_json({"type": "pong"})
        elif kind == "ack" and isinstance(content.get("id"), int):
            # Every tab of the user hears the acknowledgement through the group.
            alerting.alert_acknowledge(user_id=self.scope["user"].pk, alert_id=content["id"])
        elif kind == "shown" and isinstance(content.get("event"), int):
            # The alert history says which events an open tab received.
            deliveries.page_shown(
                user_id=self.scope["user"].pk,
                event_id=content["event"],
                notified=content.get("notified") is True,
            )

    def live_event(self, event: dict[str, Any]) -> None:
        """Relays one event published by :mod:`portfolio.realtime`."""
        self.send_json(event["payload"])
