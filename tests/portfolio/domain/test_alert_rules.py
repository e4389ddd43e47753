"""The alert state machine, as tables of observations over time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from portfolio.domain.alert_rules import (
    AlertState,
    DeliveryPrefs,
    Direction,
    Kind,
    Metric,
    Notification,
    Rule,
    Severity,
    Status,
    default_rules,
    deliverable,
    step,
)

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HEALTH = Rule(
    "health",
    Metric.HEALTH,
    Direction.BELOW,
    Decimal(2),
    Decimal("2.5"),
    Severity.WARNING,
    pending=timedelta(seconds=10),
    repeat=timedelta(minutes=5),
)


def run(rule: Rule, series: list[tuple[int, str]]) -> list[tuple[int, Status | None, Kind | None]]:
    """Feed (second, value) observations; return (second, status, notification kind)."""
    state: AlertState | None = None
    out = []
    for second, value in series:
        state, note = step(rule, state, "account:1", Decimal(value), T0 + timedelta(seconds=second))
        out.append((second, state.status if state else None, note.kind if note else None))
    return out


def test_it_fires_after_the_pending_period_and_repeats_while_firing() -> None:
    assert run(HEALTH, [(0, "1.9"), (5, "1.8"), (10, "1.8"), (100, "1.7"), (310, "1.6")]) == [
        (0, Status.PENDING, None),
        (5, Status.PENDING, None),
        (10, Status.FIRING, Kind.FIRED),
        (100, Status.FIRING, None),
        (310, Status.FIRING, Kind.REPEATED),  # 5 minutes after the first notification
    ]


def test_a_blip_shorter_than_the_pending_period_never_fires() -> None:
    assert run(HEALTH, [(0, "1.9"), (5, "2.1"), (20, "2.2")]) == [
        (0, Status.PENDING, None),
        (5, None, None),
        (20, None, None),
    ]


def test_hysteresis_keeps_it_firing_until_the_clear_level_and_then_resolves() -> None:
    assert run(HEALTH, [(0, "1.9"), (10, "1.9"), (20, "2.1"), (30, "2.4"), (40, "2.6")]) == [
        (0, Status.PENDING, None),
        (10, Status.FIRING, Kind.FIRED),
        (20, Status.FIRING, None),  # above the trigger, below the clear level: still firing
        (30, Status.FIRING, None),
        (40, Status.RESOLVED, Kind.RESOLVED),
    ]


def test_after_resolving_it_can_fire_again() -> None:
    series = [(0, "1.9"), (10, "1.9"), (20, "3"), (30, "1.5"), (40, "1.5")]
    assert [kind for _, _, kind in run(HEALTH, series)] == [
        None,
        Kind.FIRED,
        Kind.RESOLVED,
        None,
        Kind.FIRED,
    ]


@pytest.mark.parametrize(
    ("rule", "bad", "good"),
    [
        (
            Rule(
                "dd",
                Metric.DRAWDOWN_PCT,
                Direction.ABOVE,
                Decimal(10),
                Decimal(7),
                Severity.WARNING,
            ),
            "12",
            "6",
        ),
        (
            Rule(
                "liq", Metric.LIQUIDATED, Direction.ABOVE, Decimal(0), Decimal(0), Severity.CRITICAL
            ),
            "1",
            "0",
        ),
    ],
)
def test_rules_that_are_bad_when_high_fire_at_once_without_pending(
    rule: Rule, bad: str, good: str
) -> None:
    assert run(rule, [(0, bad), (1, good)]) == [
        (0, Status.FIRING, Kind.FIRED),
        (1, Status.RESOLVED, Kind.RESOLVED),
    ]


def test_a_clear_level_on_the_wrong_side_is_refused() -> None:
    with pytest.raises(ValueError, match="safe side"):
        Rule("x", Metric.HEALTH, Direction.BELOW, Decimal(2), Decimal("1.5"), Severity.WARNING)


def test_disabling_a_firing_rule_resolves_it() -> None:
    state, _ = step(HEALTH, None, "account:1", Decimal(1), T0)
    state, _ = step(HEALTH, state, "account:1", Decimal(1), T0 + timedelta(seconds=10))
    assert state is not None
    assert state.status == Status.FIRING
    off = Rule(**{**HEALTH.__dict__, "enabled": False})
    state, note = step(off, state, "account:1", Decimal(1), T0 + timedelta(seconds=20))
    assert note is not None
    assert note.kind == Kind.RESOLVED


def note(severity: Severity) -> Notification:
    return Notification(Kind.FIRED, "r", "account:1", severity, Decimal(1), T0)


@pytest.mark.parametrize(
    ("prefs", "local", "severity", "expected"),
    [
        (DeliveryPrefs(), time(3), Severity.WARNING, True),
        (DeliveryPrefs(time(22), time(7)), time(3), Severity.WARNING, False),  # over midnight
        (DeliveryPrefs(time(22), time(7)), time(12), Severity.WARNING, True),
        (DeliveryPrefs(time(22), time(7)), time(3), Severity.CRITICAL, True),  # always passes
        (DeliveryPrefs(time(13), time(14)), time(13, 30), Severity.WARNING, False),
        (DeliveryPrefs(snoozed_until=T0 + timedelta(hours=1)), time(12), Severity.WARNING, False),
        (DeliveryPrefs(snoozed_until=T0 + timedelta(hours=1)), time(12), Severity.CRITICAL, True),
        (DeliveryPrefs(snoozed_until=T0 - timedelta(hours=1)), time(12), Severity.WARNING, True),
    ],
)
def test_quiet_hours_and_snooze_hold_back_all_but_critical(
    prefs: DeliveryPrefs, local: time, severity: Severity, expected: bool
) -> None:
    assert deliverable(note(severity), prefs, now=T0, local=local) is expected


def test_the_defaults_cover_every_metric_and_are_consistent() -> None:
    rules = default_rules()
    assert {r.metric for r in rules} == set(Metric) - {Metric.POSITION_NOTIONAL}
    assert len({r.key for r in rules}) == len(rules)
    critical = {r.key for r in rules if r.severity == Severity.CRITICAL}
    assert {"health-critical", "liquidated", "data-stale"} <= critical
