"""Alert rules as a pure state machine: observations in, state changes and notifications out.

Each rule watches one metric for one scope (an account, or an account's symbol):

- **hysteresis**: it fires when the value crosses ``trigger`` and clears only when it crosses
  back over ``clear``, so a value wobbling around one threshold does not flap;
- **pending**: the condition must hold for ``pending`` before it fires (noise filter);
- **repeat**: while firing, it notifies again every ``repeat`` (escalation);
- **resolve**: clearing sends a "resolved" notification.

Delivery honours quiet hours and snooze, which critical alerts always pass. No Django, no I/O:
the caller stores :class:`AlertState` (at most one open state per rule and scope) and sends the
notifications after commit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum


class Metric(StrEnum):
    HEALTH = "health"  # health multiple; liquidation at 1
    LIQ_DISTANCE_PCT = "liq_distance_pct"
    DRAWDOWN_PCT = "drawdown_pct"  # equity drop from its peak over a window, in percent
    LEVERAGE = "leverage"
    POSITION_NOTIONAL = "position_notional"
    FUNDING_RATE_ABS = "funding_rate_abs"  # |rate| per interval
    TOKEN_EXPIRY_HOURS = "token_expiry_hours"  # noqa: S105 - a metric name, not a secret
    DATA_AGE_S = "data_age_s"  # "your monitor is blind"
    LIQUIDATED = "liquidated"  # 1 when a liquidation happened since the last observation


class Direction(StrEnum):
    BELOW = "below"  # bad when the value is low (health, distance)
    ABOVE = "above"  # bad when the value is high (drawdown, leverage, age)


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class Status(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Kind(StrEnum):
    FIRED = "fired"
    REPEATED = "repeated"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class Rule:
    key: str
    metric: Metric
    direction: Direction
    trigger: Decimal
    clear: Decimal
    severity: Severity
    pending: timedelta = timedelta(0)
    repeat: timedelta | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        # The clear threshold must sit on the safe side of the trigger, or the rule would flap.
        safe = (
            self.clear >= self.trigger
            if self.direction == Direction.BELOW
            else (self.clear <= self.trigger)
        )
        if not safe:
            raise ValueError(f"rule {self.key}: clear must be on the safe side of trigger")

    def bad(self, value: Decimal) -> bool:
        return value < self.trigger if self.direction == Direction.BELOW else value > self.trigger

    def cleared(self, value: Decimal) -> bool:
        return value >= self.clear if self.direction == Direction.BELOW else value <= self.clear


@dataclass(frozen=True)
class AlertState:
    rule_key: str
    scope: str  # "account:12" or "account:12:BTC-USD"
    status: Status
    since: datetime  # when the condition began (pending/firing) or cleared (resolved)
    value: Decimal
    last_notified: datetime | None = None
    notifications: int = 0


@dataclass(frozen=True)
class Notification:
    kind: Kind
    rule_key: str
    scope: str
    severity: Severity
    value: Decimal
    at: datetime


def step(
    rule: Rule, state: AlertState | None, scope: str, value: Decimal, now: datetime
) -> tuple[AlertState | None, Notification | None]:
    """One observation of ``value`` for ``rule`` in ``scope``: the new state and what to send."""

    def notify(kind: Kind, current: AlertState) -> tuple[AlertState, Notification]:
        sent = replace(current, last_notified=now, notifications=current.notifications + 1)
        return sent, Notification(kind, rule.key, scope, rule.severity, value, now)

    active = state is not None and state.status in (Status.PENDING, Status.FIRING)
    if not rule.enabled:
        if state is not None and state.status == Status.FIRING:
            return notify(Kind.RESOLVED, replace(state, status=Status.RESOLVED, since=now))
        return (None if active else state), None
    if not active:
        if not rule.bad(value):
            return state, None
        pending = AlertState(rule.key, scope, Status.PENDING, now, value)
        if rule.pending <= timedelta(0):
            return notify(Kind.FIRED, replace(pending, status=Status.FIRING))
        return pending, None
    assert state is not None
    if state.status == Status.PENDING:
        if not rule.bad(value):
            return None, None  # the blip passed before it counted
        if now - state.since >= rule.pending:
            return notify(Kind.FIRED, replace(state, status=Status.FIRING, value=value))
        return replace(state, value=value), None
    # Firing.
    if rule.cleared(value):
        return notify(Kind.RESOLVED, replace(state, status=Status.RESOLVED, since=now, value=value))
    current = replace(state, value=value)
    due = rule.repeat is not None and (
        state.last_notified is None or now - state.last_notified >= rule.repeat
    )
    if due:
        return notify(Kind.REPEATED, current)
    return current, None


@dataclass(frozen=True)
class DeliveryPrefs:
    """When a user wants to be told: quiet hours (local times) and an optional snooze."""

    quiet_start: time | None = None
    quiet_end: time | None = None
    snoozed_until: datetime | None = None

    def in_quiet_hours(self, local: time) -> bool:
        if self.quiet_start is None or self.quiet_end is None:
            return False
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end  # over midnight


def deliverable(
    notification: Notification, prefs: DeliveryPrefs, *, now: datetime, local: time
) -> bool:
    """Whether to push/notify now. Critical alerts always pass; the rest respect quiet/snooze."""
    if notification.severity == Severity.CRITICAL:
        return True
    if prefs.snoozed_until is not None and now < prefs.snoozed_until:
        return False
    return not prefs.in_quiet_hours(local)


def default_rules() -> list[Rule]:
    """Sensible defaults made at sign-up; every threshold is editable per user."""
    d = Decimal
    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    return [
        Rule(
            "health-warning",
            Metric.HEALTH,
            Direction.BELOW,
            d(2),
            d("2.3"),
            Severity.WARNING,
            pending=timedelta(seconds=10),
            repeat=hour,
        ),
        Rule(
            "health-critical",
            Metric.HEALTH,
            Direction.BELOW,
            d("1.3"),
            d("1.5"),
            Severity.CRITICAL,
            repeat=5 * minute,
        ),
        Rule(
            "liq-distance",
            Metric.LIQ_DISTANCE_PCT,
            Direction.BELOW,
            d(5),
            d(7),
            Severity.WARNING,
            pending=timedelta(seconds=10),
            repeat=hour,
        ),
        Rule("liquidated", Metric.LIQUIDATED, Direction.ABOVE, d(0), d(0), Severity.CRITICAL),
        Rule(
            "drawdown",
            Metric.DRAWDOWN_PCT,
            Direction.ABOVE,
            d(10),
            d(7),
            Severity.WARNING,
            repeat=6 * hour,
        ),
        Rule("leverage", Metric.LEVERAGE, Direction.ABOVE, d(20), d(18), Severity.WARNING),
        Rule(
            "funding-extreme",
            Metric.FUNDING_RATE_ABS,
            Direction.ABOVE,
            d("0.001"),
            d("0.0007"),
            Severity.WARNING,
        ),
        Rule(
            "token-expiring",
            Metric.TOKEN_EXPIRY_HOURS,
            Direction.BELOW,
            d(24),
            d(24),
            Severity.WARNING,
            repeat=6 * hour,
        ),
        Rule(
            "data-stale",
            Metric.DATA_AGE_S,
            Direction.ABOVE,
            d(120),
            d(30),
            Severity.CRITICAL,
            pending=timedelta(seconds=30),
            repeat=15 * minute,
        ),
    ]
