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
from standx_web.channel_layer import RedisChannelLayer

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


async def test_a_quiet_connection_outlives_the_layers_blocking_receive() -> None:
    """redis-py's default 5 s socket timeout once equalled channels_redis's 5 s blocking pop,
    so every connection that heard nothing for 5 s died with a Redis TimeoutError."""
    alice_ws = await connect_as(await session_cookie_for("alice"))
    await alice_ws.receive_json_from(timeout=5)
    # Longer than one blocking receive; a dead consumer would raise here.
    assert await alice_ws.receive_nothing(timeout=RedisChannelLayer.brpop_timeout + 1.5)

    alice_id = await sync_to_async(lambda: User.objects.get(username="alice").pk)()
    await sync_to_async(realtime.publish_to_user)(alice_id, {"type": "notice", "text": "hello"})
    assert await alice_ws.receive_json_from(timeout=5) == {"type": "notice", "text": "hello"}
    await alice_ws.disconnect()


def alice_critical_alert() -> int:
    """Alice's SOL position crosses her critical health level; returns the alert's id."""
    from decimal import Decimal

    from portfolio.alerts import evaluation as alerting
    from portfolio.market import store as market
    from portfolio.models import Alert
    from tests.portfolio.alerts.test_evaluation import hold_sol, make_account

    account = make_account(User.objects.get(username="alice"))
    hold_sol(account)
    market.mark_store("standx", "SOL-USD", mark=Decimal("91.1"), source="stream")
    alerting.alerts_evaluate_symbol("standx", "SOL-USD")
    return Alert.objects.get(rule__key="health-critical").pk


async def connect_as(cookie: bytes) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, "/ws/live/", headers=[*HEADERS, (b"cookie", cookie)])
    assert (await ws.connect())[0]
    return ws


async def test_alerts_reach_their_owner_and_never_another_users_browser() -> None:
    alice_ws = await connect_as(await session_cookie_for("alice"))
    bob_ws = await connect_as(await session_cookie_for("bob"))
    await alice_ws.receive_json_from(timeout=5)
    await bob_ws.receive_json_from(timeout=5)

    alert_id = await sync_to_async(alice_critical_alert)()

    message = await alice_ws.receive_json_from(timeout=5)
    assert message["type"] == "alert"
    assert message["kind"] == "fired"
    assert message["notify"] is True
    assert message["firing"] == 1
    assert message["alert"]["id"] == alert_id
    assert message["alert"]["severity"] == "critical"
    assert message["event"]["title"] == "Critical: SOL-USD (Main) margin health 1.21×"
    assert message["alert"]["url"].endswith(f"#pos-{message['alert']['account_id']}-SOL-USD")
    assert await bob_ws.receive_nothing(timeout=0.5)
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_a_new_connection_gets_the_firing_alerts_and_acknowledges_them() -> None:
    cookie = await session_cookie_for("alice")
    alert_id = await sync_to_async(alice_critical_alert)()
    ws = await connect_as(cookie)
    other_tab = await connect_as(cookie)
    state = (await ws.receive_json_from(timeout=5))["state"]["alerts"]
    await other_tab.receive_json_from(timeout=5)
    assert [a["id"] for a in state["firing"]] == [alert_id]
    assert state["firing"][0]["acknowledged"] is False
    assert state["recent"][0]["kind"] == "fired"

    await ws.send_json_to({"type": "ack", "id": alert_id})
    # Every tab of the user hears it.
    assert await ws.receive_json_from(timeout=5) == {"type": "alert_ack", "id": alert_id}
    assert await other_tab.receive_json_from(timeout=5) == {"type": "alert_ack", "id": alert_id}
    await ws.disconnect()
    await other_tab.disconnect()


async def test_bob_cannot_acknowledge_alices_alert_over_the_socket() -> None:
    await session_cookie_for("alice")
    alert_id = await sync_to_async(alice_critical_alert)()
    bob_ws = await connect_as(await session_cookie_for("bob"))
    state = (await bob_ws.receive_json_from(timeout=5))["state"]["alerts"]
    assert state["firing"] == []
    await bob_ws.send_json_to({"type": "ack", "id": alert_id})
    assert await bob_ws.receive_nothing(timeout=0.5)
    from portfolio.models import Alert

    acked = await sync_to_async(lambda: Alert.objects.get(pk=alert_id).acknowledged_at)()
    assert acked is None
    await bob_ws.disconnect()


async def test_a_moved_mark_tells_the_owners_pages_to_refresh_their_numbers() -> None:
    alice_ws = await connect_as(await session_cookie_for("alice"))
    bob_ws = await connect_as(await session_cookie_for("bob"))
    await alice_ws.receive_json_from(timeout=5)
    await bob_ws.receive_json_from(timeout=5)

    await sync_to_async(alice_critical_alert)()

    kinds = [(await alice_ws.receive_json_from(timeout=5))["type"] for _ in range(2)]
    assert kinds == ["alert", "portfolio"]
    assert await bob_ws.receive_nothing(timeout=0.5)
    await alice_ws.disconnect()
    await bob_ws.disconnect()


async def test_a_tab_reports_the_alerts_it_showed_and_only_its_users() -> None:
    from portfolio.models import AlertDelivery, AlertEvent

    alice_ws = await connect_as(await session_cookie_for("alice"))
    bob_ws = await connect_as(await session_cookie_for("bob"))
    await alice_ws.receive_json_from(timeout=5)
    await bob_ws.receive_json_from(timeout=5)
    await sync_to_async(alice_critical_alert)()
    message = await alice_ws.receive_json_from(timeout=5)
    event_id = message["event"]["id"]
    assert message["tag"] == f"standx-alert-{message['alert']['account_id']}-health-SOL-USD"

    await bob_ws.send_json_to({"type": "shown", "event": event_id, "notified": True})
    await alice_ws.send_json_to({"type": "shown", "event": event_id, "notified": True})
    await alice_ws.send_json_to({"type": "shown", "event": event_id, "notified": False})
    await alice_ws.send_json_to({"type": "ping"})  # handled in order: the reports are stored
    assert (await alice_ws.receive_json_from(timeout=5))["type"] in ("pong", "portfolio")

    def pages() -> list[tuple[int, str, str]]:
        return list(
            AlertDelivery.objects.filter(channel="page").values_list("event_id", "status", "detail")
        )

    found = await sync_to_async(pages)()
    assert found == [(event_id, "shown", "An open tab showed it as a notification.")]
    assert await sync_to_async(AlertEvent.objects.filter(pk=event_id).exists)()
    await alice_ws.disconnect()
    await bob_ws.disconnect()
