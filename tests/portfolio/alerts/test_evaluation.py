"""Alert evaluation on stored data: rows, events, pushes and emails.

The account holds an isolated SOL long of 20 at entry 100 with 200 DUSD of margin and a 1 %
maintenance rate, so its health is (200 + 20 (m - 100)) / (0.2 m): 10× at 100, 1.3× (critical)
at about 91.19, 1.5× (its clear level) at about 91.37, 2× (the warning) at about 91.84.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, connections, transaction

from accounts.models import ExchangeAccount, User
from portfolio.alerts import email as notify
from portfolio.alerts import evaluation as alerting
from portfolio.domain.alert_rules import Metric
from portfolio.market import store as market
from portfolio.models import (
    Alert,
    AlertEvent,
    AlertRule,
    AlertSettings,
    BalanceSnapshot,
    MarketPrice,
    Order,
    Position,
    SyncState,
)
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
D = Decimal


def make_account(owner: User, label: str = "Main", address: str = "0xa") -> ExchangeAccount:
    return factories.make_account(
        owner, label, address, verified_at=NOW, expires_at=NOW + timedelta(days=7)
    )


def hold_sol(account: ExchangeAccount, mark: str = "100") -> Position:
    m = D(mark)
    return Position.objects.create(
        account=account,
        symbol="SOL-USD",
        exchange_id=1,
        qty=D(20),
        entry_price=D(100),
        mark_price=m,
        position_value=20 * m,
        upnl=20 * (m - 100),
        margin_mode="isolated",
        leverage=D(10),
        initial_margin=D(200),
        holding_margin=D(200),
        maint_margin=20 * m * D("0.01"),
        synced_at=NOW,
    )


def balance(account: ExchangeAccount, equity: str, at: datetime = NOW) -> None:
    e = D(equity)
    zero = D(0)
    BalanceSnapshot.objects.create(
        account=account,
        taken_at=at,
        equity=e,
        cash=e,
        upnl=zero,
        margin_used=zero,
        available=e,
        locked=zero,
        cross_balance=e,
        cross_upnl=zero,
    )


def move(mark: str, at: datetime = NOW) -> int:
    market.mark_store("standx", "SOL-USD", mark=D(mark), source="stream", at=at)
    return alerting.alerts_evaluate_symbol("standx", "SOL-USD", now=at)


@pytest.fixture
def account(alice: User) -> ExchangeAccount:
    return make_account(alice)


def open_alerts(key: str) -> list[Alert]:
    return list(Alert.objects.filter(rule__key=key, status__in=["pending", "firing"]))


def test_new_users_get_the_default_rules_and_settings(alice: User) -> None:
    keys = set(AlertRule.objects.filter(user=alice).values_list("key", flat=True))
    assert {
        "health-warning",
        "health-critical",
        "liq-distance",
        "liquidated",
        "drawdown",
        "leverage",
        "funding-extreme",
        "token-expiring",
        "data-stale",
    } == keys
    assert AlertSettings.objects.get(user=alice).email_critical is True
    alerting.rules_create_defaults(alice.pk)  # idempotent
    assert AlertRule.objects.filter(user=alice).count() == len(keys)


def test_a_mark_near_liquidation_fires_one_critical_alert_in_plain_words(
    account: ExchangeAccount,
) -> None:
    hold_sol(account)
    assert move("100") == 0
    assert move("91.1") >= 1
    [alert] = open_alerts("health-critical")
    assert alert.status == "firing"
    assert alert.symbol == "SOL-USD"
    assert alert.title == "Critical: SOL-USD (Main) margin health 1.21×"
    assert "alert below 1.30×, clears at 1.50×" in alert.body
    [event] = AlertEvent.objects.filter(alert=alert)
    assert (event.kind, event.delivered) == ("fired", True)
    # Distance to liquidation (5 % rule) also fires at once? It has a 10 s pending period.
    assert open_alerts("liq-distance")[0].status == "pending"


def test_an_unchanged_situation_writes_nothing(
    account: ExchangeAccount, django_assert_max_num_queries: Any
) -> None:
    hold_sol(account)
    move("91.1")
    events = AlertEvent.objects.count()
    with django_assert_max_num_queries(12):
        assert (
            alerting.alerts_evaluate_symbol("standx", "SOL-USD", now=NOW + timedelta(seconds=1))
            == 0
        )
    assert AlertEvent.objects.count() == events


def test_hysteresis_keeps_it_firing_between_trigger_and_clear_then_resolves(
    account: ExchangeAccount,
) -> None:
    hold_sol(account)
    move("91.1")
    move("91.3", NOW + timedelta(seconds=1))  # health 1.46: above trigger, below clear
    [alert] = open_alerts("health-critical")
    assert alert.notifications == 1
    move("95", NOW + timedelta(seconds=2))
    assert open_alerts("health-critical") == []
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert alert.resolved_at == NOW + timedelta(seconds=2)
    assert alert.title.startswith("Resolved: SOL-USD (Main) margin health back to")
    kinds = list(
        AlertEvent.objects.filter(alert=alert).order_by("at").values_list("kind", flat=True)
    )
    assert kinds == ["fired", "resolved"]


def test_a_blip_shorter_than_the_pending_period_never_fires(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.7")  # health 1.85: below the 2× warning, whose pending period is 10 s
    assert open_alerts("health-warning")[0].status == "pending"
    move("100", NOW + timedelta(seconds=5))
    assert not Alert.objects.filter(rule__key="health-warning").exists()
    assert not AlertEvent.objects.exists()


def test_a_condition_that_outlasts_the_pending_period_fires(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.7")
    move("91.6", NOW + timedelta(seconds=11))
    [alert] = open_alerts("health-warning")
    assert alert.status == "firing"
    assert alert.title.startswith("Warning: SOL-USD (Main) margin health")


def test_a_critical_alert_escalates_at_its_repeat_interval(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.1")
    move("91.1", NOW + timedelta(minutes=2))
    move("91.1", NOW + timedelta(minutes=5, seconds=1))
    [alert] = open_alerts("health-critical")
    assert alert.notifications == 2
    assert alert.title.startswith("Still critical:")
    kinds = list(
        AlertEvent.objects.filter(alert=alert).order_by("at").values_list("kind", flat=True)
    )
    assert kinds == ["fired", "repeated"]


def test_closing_the_position_resolves_its_alert(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.1")
    Position.objects.all().delete()
    alerting.alerts_evaluate([account.pk], now=NOW + timedelta(seconds=3))
    alert = Alert.objects.get(rule__key="health-critical")
    assert alert.status == "resolved"
    event = AlertEvent.objects.get(alert=alert, kind="resolved")
    # Not "margin health back to 1.21×": that was its last value before the close.
    assert event.title == alert.title == "Resolved: SOL-USD (Main) position closed"
    assert event.body == alert.body == "The position was closed, so the alert is over."


def test_quiet_hours_hold_back_warnings_but_critical_alerts_pass(account: ExchangeAccount) -> None:
    AlertSettings.objects.filter(user=account.owner).update(
        time_zone="Europe/Berlin", quiet_start=time(12), quiet_end=time(14)
    )  # 12:00 UTC is 13:00 in Berlin: quiet
    hold_sol(account)
    move("91.7")
    move("91.1", NOW + timedelta(seconds=11))  # both the warning and the critical rule fire
    delivered = dict(AlertEvent.objects.values_list("alert__rule__key", "delivered"))
    assert delivered == {"health-warning": False, "liq-distance": False, "health-critical": True}


def test_a_snooze_holds_back_warnings_until_it_ends(account: ExchangeAccount) -> None:
    alerting.alerts_snooze(user_id=account.owner_id, until=NOW + timedelta(hours=1))
    hold_sol(account)
    move("91.7")
    move("91.7", NOW + timedelta(seconds=11))
    assert AlertEvent.objects.count() == 2  # the health warning and the distance warning
    assert not AlertEvent.objects.filter(delivered=True).exists()


def test_a_disabled_rule_resolves_its_firing_alert(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.1")
    AlertRule.objects.filter(key="health-critical").update(enabled=False)
    move("91.1", NOW + timedelta(seconds=1))
    assert open_alerts("health-critical") == []
    assert Alert.objects.get(rule__key="health-critical").status == "resolved"


def test_a_critical_alert_is_emailed_once(
    account: ExchangeAccount, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    AlertSettings.objects.filter(user=account.owner).update(
        email="alice@example.com", email_verified_at=NOW
    )
    queued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(alerting, "queue_after_commit", lambda name, *a: queued.append((name, a)))
    hold_sol(account)
    with django_capture_on_commit_callbacks(execute=True):
        move("91.1")
    event = AlertEvent.objects.get(kind="fired")
    assert queued == [("portfolio.send_alert_email", (event.pk,))]
    assert notify.alert_email_send(event.pk) is True
    assert notify.alert_email_send(event.pk) is False  # a retried task sends nothing twice
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "[StandX Portfolio] Critical: SOL-USD (Main) margin health 1.21×"
    assert "#pos-" in message.body
    assert "not-a-real-ciphertext" not in message.body


def test_warnings_and_users_who_opted_out_get_no_email(
    account: ExchangeAccount, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    AlertSettings.objects.filter(user=account.owner).update(email_critical=False)
    queued: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(alerting, "queue_after_commit", lambda name, *a: queued.append((name, a)))
    hold_sol(account)
    with django_capture_on_commit_callbacks(execute=True):
        move("91.1")
    assert queued == []


def test_the_sweep_says_when_the_monitor_is_blind(account: ExchangeAccount) -> None:
    SyncState.objects.create(account=account, next_due_at=NOW, last_success_at=NOW)
    alerting.alerts_sweep(now=NOW + timedelta(seconds=60))
    assert open_alerts("data-stale") == []
    alerting.alerts_sweep(now=NOW + timedelta(seconds=200))  # pending for 30 s first
    alerting.alerts_sweep(now=NOW + timedelta(seconds=240))
    [alert] = open_alerts("data-stale")
    assert alert.status == "firing"
    assert alert.title == "Critical: Main data age 240 s"
    SyncState.objects.filter(pk=account.pk).update(last_success_at=NOW + timedelta(seconds=245))
    alerting.alerts_sweep(now=NOW + timedelta(seconds=250))
    assert open_alerts("data-stale") == []


def test_a_token_expiring_within_a_day_warns(account: ExchangeAccount) -> None:
    ExchangeAccount.objects.filter(pk=account.pk).update(
        credential_expires_at=NOW + timedelta(hours=5)
    )
    alerting.alerts_sweep(now=NOW)
    [alert] = open_alerts("token-expiring")
    assert alert.title == "Warning: Main api token expires in 5 h"


def test_a_liquidation_order_fires_and_an_hour_later_resolves(account: ExchangeAccount) -> None:
    Order.objects.create(
        account=account,
        exchange_id=9,
        symbol="SOL-USD",
        side="sell",
        order_type="market",
        status="filled",
        qty=D(20),
        fill_qty=D(20),
        is_liquidation=True,
        created_at=NOW,
        updated_at=NOW,
    )
    alerting.alerts_evaluate([account.pk], now=NOW + timedelta(seconds=1))
    [alert] = open_alerts("liquidated")
    assert alert.title == "Critical: SOL-USD (Main) was liquidated"
    alerting.alerts_evaluate([account.pk], now=NOW + timedelta(hours=1, seconds=2))
    assert open_alerts("liquidated") == []


def test_a_drawdown_from_the_days_peak_warns(account: ExchangeAccount) -> None:
    balance(account, "10000", NOW - timedelta(hours=3))
    balance(account, "8800", NOW)
    alerting.alerts_evaluate([account.pk], now=NOW)
    [alert] = open_alerts("drawdown")
    assert alert.value == D(12)
    assert alert.title == "Warning: Main drawdown from 24 h peak 12.00%"


def test_extreme_funding_on_a_held_symbol_warns(account: ExchangeAccount) -> None:
    hold_sol(account)
    market.mark_store("standx", "SOL-USD", mark=D(100), source="rest", at=NOW)
    from portfolio.models import MarketPrice

    MarketPrice.objects.filter(symbol="SOL-USD").update(funding_rate=D("-0.0025"))
    alerting.alerts_evaluate([account.pk], now=NOW)
    [alert] = open_alerts("funding-extreme")
    assert alert.title == "Warning: SOL-USD (Main) funding rate 0.2500%"


def test_rules_are_per_user(alice: User, bob: User) -> None:
    alices = make_account(alice)
    bobs = make_account(bob, "Bob's", "0xb")
    AlertRule.objects.filter(user=bob, key="health-critical").update(trigger=D("1.1"))
    hold_sol(alices)
    hold_sol(bobs)
    move("91.1")  # health 1.21: below alice's 1.3, above bob's 1.1
    assert [a.account_id for a in open_alerts("health-critical")] == [alices.pk]
    assert Alert.objects.filter(user=bob, status="firing").count() == 0


def test_at_most_one_open_alert_per_rule_account_and_symbol(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.1")
    alert = open_alerts("health-critical")[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(
            user_id=alert.user_id,
            account=account,
            rule=alert.rule,
            symbol="SOL-USD",
            status="pending",
            severity="critical",
            since=NOW,
            value=D(1),
            opened_at=NOW,
        )


@pytest.mark.django_db(transaction=True)
def test_racing_evaluations_open_one_alert_and_send_one_event(alice: User) -> None:
    account = make_account(alice)
    hold_sol(account)
    market.mark_store("standx", "SOL-USD", mark=D("91.1"), source="stream", at=NOW)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def evaluate() -> None:
        try:
            barrier.wait()
            alerting.alerts_evaluate([account.pk], metrics=alerting.PRICE_METRICS, now=NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Alert.objects.filter(rule__key="health-critical").count() == 1
    assert AlertEvent.objects.filter(alert__rule__key="health-critical").count() == 1


def test_acknowledging_is_for_the_owner_only(account: ExchangeAccount, bob: User) -> None:
    hold_sol(account)
    move("91.1")
    alert = open_alerts("health-critical")[0]
    assert alerting.alert_acknowledge(user_id=bob.pk, alert_id=alert.pk) is None
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    acked = alerting.alert_acknowledge(user_id=account.owner_id, alert_id=alert.pk)
    assert acked is not None
    assert acked.acknowledged_at is not None


def test_observations_cover_cross_positions_with_the_accounts_cross_health(
    account: ExchangeAccount,
) -> None:
    # A cross BTC long: 0.1 at 100000, MM 1 %; the cross balance is 1000 DUSD.
    Position.objects.create(
        account=account,
        symbol="BTC-USD",
        exchange_id=2,
        qty=D("0.1"),
        entry_price=D(100000),
        mark_price=D(100000),
        position_value=D(10000),
        upnl=D(0),
        margin_mode="cross",
        leverage=D(10),
        initial_margin=D(1000),
        maint_margin=D(100),
        synced_at=NOW,
    )
    balance(account, "1000")
    [view] = alerting.load_views([account.pk], alerting.ALL_METRICS, NOW)
    seen = alerting.observe(view, alerting.ALL_METRICS, NOW, ticks={}, funding={})
    assert seen[Metric.HEALTH] == {"BTC-USD": D(10)}
    assert seen[Metric.LEVERAGE] == {"": D(10)}
    assert seen[Metric.POSITION_NOTIONAL] == {"BTC-USD": D(10000)}
    assert seen[Metric.DATA_AGE_S] == {"": D(0)}


def test_a_mark_on_one_venue_never_reprices_or_alerts_the_same_symbol_on_another(
    alice: User,
) -> None:
    here = make_account(alice, "Here", "0xa")
    there = make_account(alice, "There", "0xb")
    ExchangeAccount.objects.filter(pk=there.pk).update(venue="elsewhere")
    hold_sol(here)
    hold_sol(there)
    market.mark_store("elsewhere", "SOL-USD", mark=D("100"), source="stream", at=NOW)
    move("91.1")  # StandX's SOL-USD falls to a critical health
    assert Position.objects.get(account=there).mark_price == D("100")
    assert Position.objects.get(account=here).mark_price == D("91.1")
    [alert] = open_alerts("health-critical")
    assert alert.account_id == here.pk
    prices = dict(MarketPrice.objects.values_list("venue", "mark_price"))
    assert prices == {"standx": D("91.1"), "elsewhere": D("100")}
