"""The live WebSocket through the real ASGI app and the real channels_redis layer."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.models import User
from portfolio import realtime
from standx_web.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

HEADERS = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


@sync_to_async
def session_cookie_for(username: str) -> bytes:
    user = User.objects.create_user(username, password="x")
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def test_it_denies_anonymous_connections() -> None:
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=HEADERS)
    connected, _ = await communicator.connect()
    assert connected is False


async def test_it_denies_a_foreign_origin() -> None:
    cookie = await session_cookie_for("alice")
    headers = [(b"origin", b"https://evil.example"), (b"host", b"localhost"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected is False


async def test_it_sends_the_current_state_on_connect() -> None:
    cookie = await session_cookie_for("alice")
    communicator = WebsocketCommunicator(
        application, "/ws/live/", headers=[*HEADERS, (b"cookie", cookie)]
    )
    connected, _ = await communicator.connect()
    assert connected
    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "state"
    assert message["state"]["username"] == "alice"
    assert set(message["state"]["system"]) == {"database", "redis", "worker", "pricestream"}
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    await communicator.disconnect()


async def test_events_reach_only_their_users_tabs() -> None:
    alice_cookie = await session_cookie_for("alice")
    bob_cookie = await session_cookie_for("bob")
    alice_ws = WebsocketCommunicator(
        application, "/ws/live/", headers=[*HEADERS, (b"cookie", alice_cookie)]
    )
    bob_ws = WebsocketCommunicator(
        application, "/ws/live/", headers=[*HEADERS, (b"cookie", bob_cookie)]
    )
    assert (await alice_ws.connect())[0]
    assert (await bob_ws.connect())[0]
    await alice_ws.receive_json_from(timeout=5)
    await bob_ws.receive_json_from(timeout=5)

    alice_id = await sync_to_async(lambda: User.objects.get(username="alice").pk)()
    # Outside a transaction on_commit runs at once, exactly as after a real commit.
    await sync_to_async(realtime.publish_to_user)(alice_id, {"type": "notice", "text": "hi"})

    assert await alice_ws.receive_json_from(timeout=5) == {"type": "notice", "text": "hi"}
    assert await bob_ws.receive_nothing(timeout=0.5)
    await alice_ws.disconnect()
    await bob_ws.disconnect()
