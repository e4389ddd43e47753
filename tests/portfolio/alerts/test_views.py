"""The alert pages: history, rules editor with preview, acknowledge and snooze."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from portfolio.alerts import evaluation as alerting
from portfolio.market import store as market
from portfolio.models import Alert, AlertRule, AlertSettings
from tests.portfolio.alerts.test_evaluation import hold_sol, make_account
from tests.portfolio.conftest import logged_in

pytestmark = pytest.mark.django_db


def rules_post(user: User, action: str, **changes: str) -> dict[str, str]:
    """The rules form as the page would submit it, with ``changes`` (e.g. rules-1-trigger)."""
    data: dict[str, str] = {}
    rules = list(AlertRule.objects.filter(user=user))
    data["rules-TOTAL_FORMS"] = str(len(rules))
    data["rules-INITIAL_FORMS"] = str(len(rules))
    for i, rule in enumerate(rules):
        p = f"rules-{i}-"
        data[p + "id"] = str(rule.pk)
        if rule.enabled:
            data[p + "enabled"] = "on"
        data[p + "severity"] = rule.severity
        data[p + "trigger"] = str(rule.trigger)
        data[p + "clear"] = str(rule.clear)
        data[p + "pending_seconds"] = str(rule.pending_seconds)
        data[p + "repeat_seconds"] = str(rule.repeat_seconds or "")
    data.update({"prefs-time_zone": "UTC", "prefs-email_critical": "on", "action": action})
    data.update(changes)
    return data


def index_of(user: User, key: str) -> int:
    return list(AlertRule.objects.filter(user=user).values_list("key", flat=True)).index(key)


@pytest.fixture
def firing(alice: User) -> Alert:
    account = make_account(alice)
    hold_sol(account)
    now = timezone.now()
    market.mark_store("standx", "SOL-USD", mark=Decimal("91.1"), source="stream", at=now)
    alerting.alerts_evaluate_symbol("standx", "SOL-USD", now=now)
    return Alert.objects.get(rule__key="health-critical")


def test_the_rules_page_shows_every_rule_in_plain_units(alice: User) -> None:
    page = logged_in(alice).get(reverse("portfolio:alert_rules")).content.decode()
    assert "Margin health" in page
    assert "Distance to liquidation" in page
    assert "Data age" in page
    assert 'value="1.3"' in page  # the critical health trigger, not 1.3000000000


def test_saving_changes_a_threshold(alice: User) -> None:
    i = index_of(alice, "health-critical")
    response = logged_in(alice).post(
        reverse("portfolio:alert_rules"), rules_post(alice, "save", **{f"rules-{i}-trigger": "1.2"})
    )
    assert response.status_code == 302
    assert AlertRule.objects.get(user=alice, key="health-critical").trigger == Decimal("1.2")


def test_a_clear_level_on_the_wrong_side_is_refused_with_a_message(alice: User) -> None:
    i = index_of(alice, "health-critical")
    response = logged_in(alice).post(
        reverse("portfolio:alert_rules"),
        rules_post(alice, "save", **{f"rules-{i}-clear": "1.1"}),
    )
    assert response.status_code == 200
    assert "The clear level must be at or above the trigger (1.3" in response.content.decode()
    assert AlertRule.objects.get(user=alice, key="health-critical").clear == Decimal("1.5")


def test_quiet_hours_need_both_ends(alice: User) -> None:
    response = logged_in(alice).post(
        reverse("portfolio:alert_rules"),
        rules_post(alice, "save", **{"prefs-quiet_start": "22:00"}),
    )
    assert "Give both ends of the quiet hours, or neither." in response.content.decode()


def test_the_preview_shows_what_would_fire_without_saving(alice: User, firing: Alert) -> None:
    i = index_of(alice, "health-critical")
    response = logged_in(alice).post(
        reverse("portfolio:alert_rules"),
        rules_post(alice, "preview", **{f"rules-{i}-trigger": "1.1", f"rules-{i}-clear": "1.2"}),
    )
    page = response.content.decode()
    assert "Preview: what these rules make of your accounts now" in page
    assert "SOL-USD (Main)" in page
    assert "1.21×" in page
    assert "within limits" in page  # at 1.1 the critical rule would not fire
    assert AlertRule.objects.get(user=alice, key="health-critical").trigger == Decimal("1.3")


def test_a_forged_extra_rule_form_is_refused(alice: User) -> None:
    data = rules_post(alice, "save")
    n = int(data["rules-TOTAL_FORMS"])
    data["rules-TOTAL_FORMS"] = str(n + 1)
    extra = {"trigger": "1", "clear": "2", "severity": "warning", "pending_seconds": "0"}
    data.update({f"rules-{n}-{name}": value for name, value in extra.items()})
    response = logged_in(alice).post(reverse("portfolio:alert_rules"), data)
    assert response.status_code == 200
    assert "The list of rules changed: reload the page." in response.content.decode()
    assert AlertRule.objects.filter(user=alice).count() == n


def test_a_forged_form_count_builds_no_more_forms_than_alice_has_rules(alice: User) -> None:
    data = rules_post(alice, "save")
    n = int(data["rules-TOTAL_FORMS"])
    data["rules-TOTAL_FORMS"] = "1000000"
    response = logged_in(alice).post(reverse("portfolio:alert_rules"), data)
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == n
    assert "The list of rules changed: reload the page." in response.content.decode()


def test_bob_cannot_edit_alices_rules_through_his_form(alice: User, bob: User) -> None:
    data = rules_post(bob, "save")
    alices = AlertRule.objects.filter(user=alice).first()
    assert alices is not None
    data["rules-0-id"] = str(alices.pk)
    data["rules-0-trigger"] = "0.5"
    logged_in(bob).post(reverse("portfolio:alert_rules"), data)
    alices.refresh_from_db()
    assert alices.trigger != Decimal("0.5")


def test_the_history_lists_alerts_with_their_notifications(alice: User, firing: Alert) -> None:
    page = logged_in(alice).get(reverse("portfolio:alerts")).content.decode()
    assert "Critical: SOL-USD (Main) margin health 1.21×" in page
    assert "1 notification" in page
    assert "Acknowledge" in page


def test_the_history_says_where_each_notification_went(alice: User, firing: Alert) -> None:
    from portfolio.alerts import deliveries
    from portfolio.alerts import email as notify
    from portfolio.models import AlertDelivery

    event = firing.events.get()
    now = timezone.now()
    AlertDelivery.objects.create(
        event=event,
        channel="push",
        target="push:1",
        device_label="Chrome on Android",
        status="accepted",
        detail="Accepted by the push service (201).",
        attempts=1,
        created_at=now,
        updated_at=now,
    )
    deliveries.page_shown(user_id=alice.pk, event_id=event.pk, notified=True)
    notify.alert_email_send(event.pk)  # alice has set no email address
    page = logged_in(alice).get(reverse("portfolio:alerts")).content.decode()
    assert "Open tab: shown (An open tab showed it as a notification.)" in page
    assert "Push · Chrome on Android: accepted by the push service" in page
    assert f"Email: not sent ({notify.NO_ADDRESS})" in page
    assert "Critical alerts are not emailed: no confirmed email address is set." in page


def test_bob_sees_none_of_alices_alerts_and_cannot_acknowledge_them(
    bob: User, firing: Alert
) -> None:
    client = logged_in(bob)
    assert "margin health" not in client.get(reverse("portfolio:alerts")).content.decode()
    response = client.post(reverse("portfolio:alert_ack", args=[firing.pk]))
    assert response.status_code == 404
    firing.refresh_from_db()
    assert firing.acknowledged_at is None


def test_acknowledging_returns_to_a_local_page_only(alice: User, firing: Alert) -> None:
    response = logged_in(alice).post(
        reverse("portfolio:alert_ack", args=[firing.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("portfolio:alerts")
    firing.refresh_from_db()
    assert firing.acknowledged_at is not None


def test_the_tab_title_counts_firing_alerts(alice: User, firing: Alert) -> None:
    page = logged_in(alice).get(reverse("portfolio:overview")).content.decode()
    assert "<title>(1) Overview" in page


def test_snoozing_holds_warnings_and_says_so(alice: User) -> None:
    response = logged_in(alice).post(
        reverse("portfolio:alert_snooze"), {"minutes": "60"}, follow=True
    )
    assert "Warnings snoozed for 1 hour; critical alerts still come." in response.content.decode()
    until = AlertSettings.objects.get(user=alice).snoozed_until
    assert until is not None and until > timezone.now() + timedelta(minutes=59)


def test_history_pages_by_keyset(alice: User, firing: Alert) -> None:
    account = firing.account
    rule = firing.rule
    base = datetime(2026, 1, 1, tzinfo=UTC)
    Alert.objects.bulk_create(
        [
            Alert(
                user=alice,
                account=account,
                rule=rule,
                symbol="SOL-USD",
                status="resolved",
                severity="critical",
                since=base,
                value=Decimal(1),
                opened_at=base,
                title=f"old {i}",
            )
            for i in range(60)
        ]
    )
    client = logged_in(alice)
    first = client.get(reverse("portfolio:alerts"))
    cursor: Any = first.context["next_before"]
    assert cursor is not None
    second = client.get(reverse("portfolio:alerts"), {"before": cursor})
    ids = [a.pk for a in first.context["alerts"]] + [a.pk for a in second.context["alerts"]]
    assert len(ids) == len(set(ids)) == 61


def test_the_overview_lists_positions_with_their_risk_at_the_users_alert_levels(
    alice: User, bob: User, firing: Alert
) -> None:
    page = logged_in(alice).get(reverse("portfolio:overview")).content.decode()
    anchor = f'id="pos-{firing.account_id}-SOL-USD" class="bad"'
    assert anchor in page  # the alert's link lands on this row, red below 1.3×
    assert "<strong>1.21×</strong>" in page
    assert "91.1" in page
    assert "SOL-USD" not in logged_in(bob).get(reverse("portfolio:overview")).content.decode()


def test_a_position_between_the_warning_and_critical_levels_is_amber(alice: User) -> None:
    account = make_account(alice)
    hold_sol(account, "91.7")  # health 1.85
    page = logged_in(alice).get(reverse("portfolio:overview")).content.decode()
    assert f'id="pos-{account.pk}-SOL-USD" class="warn"' in page


def test_the_overview_totals_each_account_at_the_live_mark_and_shows_its_data_age(
    alice: User,
) -> None:
    from portfolio.models import SyncState
    from tests.portfolio.alerts.test_evaluation import balance

    main = make_account(alice)
    other = make_account(alice, "Swing", "0xc")
    hold_sol(main, "110")  # +200 uPnL at the live mark
    balance(main, "1000")
    balance(other, "500")
    now = timezone.now()
    SyncState.objects.create(account=main, next_due_at=now, last_success_at=now)
    SyncState.objects.create(
        account=other, next_due_at=now, last_success_at=now - timedelta(minutes=10)
    )
    response = logged_in(alice).get(reverse("portfolio:overview"))
    summary = response.context["summary"]
    assert [a.label for a in summary.accounts] == ["Main", "Swing"]
    assert summary.upnl == Decimal(200)
    assert summary.equity == Decimal(1700)  # balances 1000 + 500, plus the uPnL
    assert summary.accounts[1].stale is True
    assert summary.accounts[0].stale is False
    page = response.content.decode()
    assert "1,700.00" in page
    assert 'class="stale" data-synced-at=' in page
    assert "updated 10 min ago · polled" in page  # no stream: its age and source
