"""Trading through the simulator over real HTTP: orders once per cl_ord_id, outcomes, risk
actions, the kill switch, refusals in plain words, and an audit log equal to the exchange's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
import redis
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import ExchangeAccount, User
from portfolio.domain import order_rules
from portfolio.models import AuditEntry, AuditStatus
from portfolio.trading import services as trading
from standx.stream import OrderResponse
from tests.factories import make_account, replace_secret, stored_secret
from tests.portfolio.conftest import ledger, mark
from tests.standx_access import client_for
from venues import standx as standx_venue

pytestmark = pytest.mark.django_db


def limit_buy(symbol: str, qty: str, below: str = "0.9", **extra: Any) -> order_rules.Ticket:
    price = (mark(symbol) * D(below)).quantize(D("0.01"))
    return order_rules.Ticket(
        symbol=symbol, side="buy", order_type="limit", qty=D(qty), price=price, **extra
    )


def market_order(symbol: str, side: str, qty: str, **extra: Any) -> order_rules.Ticket:
    return order_rules.Ticket(
        symbol=symbol, side=side, order_type="market", qty=D(qty), time_in_force="ioc", **extra
    )


def test_a_resting_limit_order_is_accepted_and_logged(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    cl = trading.new_cl_ord_id()
    entry = trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        ticket=limit_buy("ETH-USD", "0.1"),
        cl_ord_id=cl,
    )
    assert entry.status == AuditStatus.ACCEPTED
    assert entry.result.startswith("Accepted: buy 0.1 ETH-USD at ")
    orders = [o for o in ledger(sim_url, alice_trader)["orders"] if o["cl_ord_id"] == cl]
    assert len(orders) == 1
    assert entry.exchange_order_id == str(orders[0]["id"])
    assert entry.body["cl_ord_id"] == cl
    assert "signature" not in str(entry.body).lower()


def test_the_same_form_submitted_twice_sends_one_order(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    cl = trading.new_cl_ord_id()
    ticket = limit_buy("ETH-USD", "0.1")
    first = trading.order_submit(
        user_id=alice.pk, account_id=alice_trader.pk, ticket=ticket, cl_ord_id=cl
    )
    again = trading.order_submit(
        user_id=alice.pk, account_id=alice_trader.pk, ticket=ticket, cl_ord_id=cl
    )
    assert again.pk == first.pk
    assert AuditEntry.objects.filter(cl_ord_id=cl).count() == 1
    assert [o["cl_ord_id"] for o in ledger(sim_url, alice_trader)["orders"]].count(cl) == 1


def test_an_alo_order_that_would_take_is_rejected_in_plain_words(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    ticket = limit_buy("ETH-USD", "0.1", below="1.05", time_in_force="alo")
    entry = trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        ticket=ticket,
        cl_ord_id=trading.new_cl_ord_id(),
    )
    assert entry.status == AuditStatus.REJECTED
    assert entry.result == "Rejected by StandX: alo order rejected."


def test_a_market_order_fills_and_close_then_flattens_the_position(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    opened = trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        ticket=market_order("SOL-USD", "buy", "4", leverage=5, margin_mode="isolated"),
        cl_ord_id=trading.new_cl_ord_id(),
    )
    assert opened.status == AuditStatus.FILLED
    assert opened.result.startswith("Filled: buy 4 SOL-USD at ")
    half = trading.position_close(
        user_id=alice.pk, account_id=alice_trader.pk, symbol="SOL-USD", fraction=D("0.5")
    )
    assert half.status == AuditStatus.FILLED
    assert half.action == "reduce_50pct"
    assert half.body["qty"] == "2.00"
    assert half.body["reduce_only"] is True
    trading.position_close(user_id=alice.pk, account_id=alice_trader.pk, symbol="SOL-USD")
    with pytest.raises(trading.TradingError, match="There is no open SOL-USD position on Main"):
        trading.position_close(user_id=alice.pk, account_id=alice_trader.pk, symbol="SOL-USD")


def test_the_kill_switch_cancels_everything_and_closes_everything(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    for ticket in (
        market_order("BTC-USD", "sell", "0.01", leverage=5, margin_mode="cross"),
        market_order("SOL-USD", "buy", "3", leverage=5, margin_mode="cross"),
        limit_buy("ETH-USD", "0.1"),
        limit_buy("ETH-USD", "0.2", below="0.8"),
    ):
        trading.order_submit(
            user_id=alice.pk,
            account_id=alice_trader.pk,
            ticket=ticket,
            cl_ord_id=trading.new_cl_ord_id(),
        )
    result = trading.kill_switch(user_id=alice.pk, account_id=alice_trader.pk)
    assert result.problems == []
    assert result.cancel.result == "2 open orders canceled."
    assert sorted(c.body["symbol"] for c in result.closes) == ["BTC-USD", "SOL-USD"]
    with client_for(alice_trader) as client:
        assert [p for p in client.query_positions() if p.qty] == []
        assert client.query_open_orders().result == ()
    # The exchange's orders are exactly the audit log's.
    sent = set(AuditEntry.objects.exclude(cl_ord_id="").values_list("cl_ord_id", flat=True))
    assert {o["cl_ord_id"] for o in ledger(sim_url, alice_trader)["orders"]} == sent


def test_read_only_and_foreign_accounts_are_refused(alice: User, bob: User) -> None:
    watched = make_account(alice)
    ticket = market_order("SOL-USD", "buy", "1")
    with pytest.raises(trading.TradingError, match="linked read-only"):
        trading.order_submit(user_id=alice.pk, account_id=watched.pk, ticket=ticket, cl_ord_id="x")
    with pytest.raises(trading.TradingError, match="No such account"):
        trading.order_submit(user_id=bob.pk, account_id=watched.pk, ticket=ticket, cl_ord_id="y")
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent


def test_unreadable_credentials_refuse_the_action_in_plain_words(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    version, _, ciphertext = stored_secret(alice_trader, "standx_signing_key").split(".")
    replace_secret(alice_trader, f"{version}.retired-key.{ciphertext}", "standx_signing_key")
    with pytest.raises(trading.TradingError) as refused:
        trading.order_submit(
            user_id=alice.pk,
            account_id=alice_trader.pk,
            ticket=market_order("SOL-USD", "buy", "1"),
            cl_ord_id="z",
        )
    assert str(refused.value) == (
        "Main's stored credentials cannot be read: The stored credential was encrypted with a "
        "key that is not in CREDENTIAL_KEYS. Re-link it, or restore the key it was stored under."
    )
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent


def test_an_exchange_error_reaches_the_trader_in_plain_words(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    ticket = market_order("SOL-USD", "buy", "1000", leverage=20)  # far beyond the balance
    entry = trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        ticket=ticket,
        cl_ord_id=trading.new_cl_ord_id(),
    )
    assert entry.status == AuditStatus.REJECTED
    assert entry.result.startswith("StandX rejected it: ")
    assert "HTTP" not in entry.result


def test_trading_posts_need_csrf(alice: User, alice_trader: ExchangeAccount) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    url = reverse("portfolio:position_close", args=[alice_trader.pk, "SOL-USD"])
    assert client.post(url, {"fraction": "1"}).status_code == 403
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent


def test_margin_leverage_and_mode_changes_reach_the_exchange(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        ticket=market_order("SOL-USD", "buy", "2", leverage=5, margin_mode="isolated"),
        cl_ord_id=trading.new_cl_ord_id(),
    )
    with client_for(alice_trader) as client:
        before = next(p for p in client.query_positions(symbol="SOL-USD") if p.qty)
    added = trading.margin_add(
        user_id=alice.pk, account_id=alice_trader.pk, symbol="SOL-USD", amount=D(10)
    )
    assert added.status == AuditStatus.DONE
    assert added.result == "Added 10 margin to SOL-USD."
    with client_for(alice_trader) as client:
        after = next(p for p in client.query_positions(symbol="SOL-USD") if p.qty)
    assert after.holding_margin == (before.holding_margin or 0) + 10
    assert (
        trading.leverage_change(
            user_id=alice.pk, account_id=alice_trader.pk, symbol="ETH-USD", leverage=3
        ).status
        == AuditStatus.DONE
    )
    assert (
        trading.margin_mode_change(
            user_id=alice.pk, account_id=alice_trader.pk, symbol="ETH-USD", mode="isolated"
        ).status
        == AuditStatus.DONE
    )
    with client_for(alice_trader) as client:
        config = client.query_position_config(symbol="ETH-USD")
    assert (config.leverage, config.margin_mode) == (3, "isolated")


def test_a_user_sending_too_fast_is_told_to_wait(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trading.time, "time", lambda: 1_000_020.0)  # one fixed minute
    redis.Redis.from_url(settings.REDIS_URL).delete(f"standx:trade-rate:{alice.pk}:16667")
    for _ in range(trading.RATE_LIMIT):
        trading._throttle(alice.pk)
    with pytest.raises(trading.TradingError, match="trading requests in a minute: wait a moment"):
        trading._throttle(alice.pk)


def test_an_order_not_yet_visible_is_followed_until_it_settles(
    alice: User, alice_trader: ExchangeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    followed: list[int] = []
    monkeypatch.setattr(trading, "OUTCOME_TRIES", 0)  # the request gives up at once
    monkeypatch.setattr(trading, "_follow", followed.append)
    entry = trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        ticket=limit_buy("ETH-USD", "0.1"),
        cl_ord_id=trading.new_cl_ord_id(),
    )
    assert entry.status == AuditStatus.SENT
    assert followed == [entry.pk]
    from portfolio.tasks import settle_order

    assert settle_order(entry.pk) == AuditStatus.ACCEPTED


@pytest.fixture
def fault(sim_url: str) -> Iterator[Callable[..., None]]:
    def inject(**rule: Any) -> None:
        httpx.post(f"{sim_url}/sim/faults", json=rule, timeout=10).raise_for_status()

    yield inject
    httpx.delete(f"{sim_url}/sim/faults", timeout=10)


def test_the_outcome_comes_from_the_order_stream_when_query_order_cannot_see_it(
    alice: User,
    alice_trader: ExchangeAccount,
    fault: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fault(endpoint="query_order", error_rate=1.0, status=404)
    followed: list[int] = []
    monkeypatch.setattr(trading, "OUTCOME_TRIES", 1)
    monkeypatch.setattr(trading, "_follow", followed.append)
    rejected = trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        cl_ord_id=trading.new_cl_ord_id(),
        ticket=limit_buy("ETH-USD", "0.1", below="1.05", time_in_force="alo"),
    )
    assert rejected.status == AuditStatus.REJECTED
    assert rejected.result == "Rejected by StandX: alo order rejected."
    assert followed == []
    resting = trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        cl_ord_id=trading.new_cl_ord_id(),
        ticket=limit_buy("ETH-USD", "0.1"),
    )
    assert resting.status == AuditStatus.SENT
    assert resting.result.startswith("Accepted by StandX's matching engine")
    assert followed == [resting.pk]


def test_without_the_order_stream_the_outcome_is_read_back_by_query_order(
    alice: User, alice_trader: ExchangeAccount, fault: Callable[..., None], sim_url: str
) -> None:
    fault(endpoint="ws-api", ws_refuse_rate=1.0)
    cl = trading.new_cl_ord_id()
    rejected = trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        cl_ord_id=cl,
        ticket=limit_buy("ETH-USD", "0.1", below="1.05", time_in_force="alo"),
    )
    assert rejected.status == AuditStatus.REJECTED
    assert rejected.result == "Rejected by StandX: alo order rejected."
    assert [o["cl_ord_id"] for o in ledger(sim_url, alice_trader)["orders"]].count(cl) == 1


class PushedOnly:
    """The part of an order stream ``_verdict`` reads: pushes, in order, then silence."""

    def __init__(self, *pushes: dict[str, Any]) -> None:
        self.pushes = [OrderResponse.parse(p) for p in pushes]

    async def next_pushed(self, timeout: float | None = None) -> OrderResponse:
        if not self.pushes:
            await asyncio.sleep(timeout or 0)
            raise TimeoutError
        return self.pushes.pop(0)


def test_the_verdict_skips_interim_accepted_pushes_and_other_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(standx_venue, "STREAM_WAIT_S", 0.05)
    stream = PushedOnly(
        {"code": 0, "status": "accepted", "request_id": "r1"},
        {"code": 0, "message": "success", "request_id": "r0"},
        {"code": 400, "message": "alo order rejected", "request_id": "r1"},
    )
    verdict = asyncio.run(standx_venue._verdict(stream, "r1"))  # type: ignore[arg-type]
    assert verdict is not None
    assert (verdict.code, verdict.message) == (400, "alo order rejected")
    assert asyncio.run(standx_venue._verdict(PushedOnly(), "r1")) is None  # type: ignore[arg-type]


def test_an_order_stream_that_hangs_delays_the_order_by_at_most_the_connect_budget(
    alice: User, alice_trader: ExchangeAccount, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hangs(url: str) -> Any:
        await asyncio.sleep(30)  # a handshake the simulator cannot produce: no answer at all

    monkeypatch.setattr(standx_venue, "_connect_briefly", hangs)
    monkeypatch.setattr(standx_venue, "STREAM_CONNECT_S", 0.2)
    cl = trading.new_cl_ord_id()
    entry = trading.order_submit(
        user_id=alice.pk,
        account_id=alice_trader.pk,
        ticket=limit_buy("ETH-USD", "0.1"),
        cl_ord_id=cl,
    )
    assert entry.status == AuditStatus.ACCEPTED  # read back by query_order
    assert [o["cl_ord_id"] for o in ledger(sim_url, alice_trader)["orders"]].count(cl) == 1
    assert entry.finished_at is not None
    assert (entry.finished_at - entry.created_at).total_seconds() < 5
