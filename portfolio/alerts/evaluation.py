"""Alert evaluation, the write side: observations from stored data, the rule state machine of
:mod:`portfolio.domain.alert_rules`, alert rows in Postgres, and pushes to the browser after commit.

Three callers, each with the metrics it can speak for:

- after every sync that changed something (:data:`ALL_METRICS`);
- the price stream, on every new mark of a symbol, for the accounts holding it
  (:data:`PRICE_METRICS`: the numbers a mark moves);
- a periodic sweep for what no sync reports (:data:`SWEEP_METRICS`: data age, token expiry).

Evaluations of one account are serialised by a transaction-scoped advisory lock, so the sync
worker and the price stream never open the same alert twice (the partial unique index on open
alerts is the backstop). An evaluation that changes nothing writes nothing.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import Credential, ExchangeAccount
from accounts.selectors import with_credential_flags
from portfolio import realtime
from portfolio.alerts import fixes as fix_of
from portfolio.alerts import push
from portfolio.alerts.links import alert_url
from portfolio.domain import alert_text, risk
from portfolio.domain.alert_rules import (
    AlertState,
    DeliveryPrefs,
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
from portfolio.domain.fixes import Fix, Lot
from portfolio.domain.push_message import alert_tag
from portfolio.jobs import queue_after_commit
from portfolio.models import (
    OPEN_ALERT_STATUSES,
    Alert,
    AlertEvent,
    AlertRule,
    AlertSettings,
    AlertStatus,
    BalanceSnapshot,
    MarketPrice,
    MarketSymbol,
    Order,
    Position,
)
from portfolio.streams.freshness import account_freshness
from venues import registry

logger = logging.getLogger(__name__)

ALL_METRICS = frozenset(Metric)
PRICE_METRICS = frozenset(
    {Metric.HEALTH, Metric.LIQ_DISTANCE_PCT, Metric.LEVERAGE, Metric.POSITION_NOTIONAL}
)
SWEEP_METRICS = frozenset({Metric.DATA_AGE_S, Metric.TOKEN_EXPIRY_HOURS})
# Metrics whose absence means "all clear" rather than "the position is gone".
ZERO_WHEN_ABSENT = frozenset({Metric.LIQUIDATED})
LIQUIDATION_WINDOW = timedelta(hours=1)
DRAWDOWN_WINDOW = timedelta(hours=24)
LOCK_NAMESPACE = 7301  # pg_advisory_xact_lock(namespace, account id)
VALUE_QUANTUM = Decimal("1e-10")


def any_of(ids: Iterable[int]) -> RawSQL:
    """``field__in=any_of(ids)``: one array parameter instead of one placeholder per id, which
    keeps a thousand-account evaluation from spending its time building SQL."""
    return RawSQL("SELECT unnest(%s::bigint[])", (sorted(set(ids)),))


# --- rules and settings ----------------------------------------------------------------------


def rules_create_defaults(user_id: int) -> None:
    """The default rules and settings of a new user (idempotent: existing rows are kept)."""
    AlertRule.objects.bulk_create(
        [
            AlertRule(
                user_id=user_id,
                key=rule.key,
                metric=rule.metric.value,
                direction=rule.direction.value,
                severity=rule.severity.value,
                trigger=rule.trigger,
                clear=rule.clear,
                pending_seconds=int(rule.pending.total_seconds()),
                repeat_seconds=int(rule.repeat.total_seconds()) if rule.repeat else None,
                enabled=rule.enabled,
                position=index,
            )
            for index, rule in enumerate(default_rules())
        ],
        ignore_conflicts=True,
    )
    AlertSettings.objects.get_or_create(user_id=user_id)


RULE_FIELDS = (
    "key",
    "metric",
    "direction",
    "trigger",
    "clear",
    "severity",
    "pending_seconds",
    "repeat_seconds",
    "enabled",
)


@lru_cache(maxsize=4096)
def _rule_from_fields(fields: tuple[Any, ...]) -> Rule:
    # Most users keep the defaults: one Rule object serves every user with the same values.
    key, metric, direction, trigger, clear, severity, pending, repeat, enabled = fields
    return Rule(
        key=key,
        metric=Metric(metric),
        direction=direction,
        trigger=trigger,
        clear=clear,
        severity=Severity(severity),
        pending=timedelta(seconds=pending),
        repeat=timedelta(seconds=repeat) if repeat else None,
        enabled=enabled,
    )


def rule_of(row: AlertRule) -> Rule:
    return _rule_from_fields(tuple(getattr(row, name) for name in RULE_FIELDS))


def prefs_of(row: AlertSettings | None) -> tuple[DeliveryPrefs, zoneinfo.ZoneInfo]:
    if row is None:
        return DeliveryPrefs(), zoneinfo.ZoneInfo("UTC")
    try:
        zone = zoneinfo.ZoneInfo(row.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return DeliveryPrefs(row.quiet_start, row.quiet_end, row.snoozed_until), zone


# --- observations ----------------------------------------------------------------------------


@dataclass
class AccountView:
    """What one account's observations are made from."""

    account: ExchangeAccount
    positions: list[Position] = field(default_factory=list)
    balance: BalanceSnapshot | None = None
    peak_equity: Decimal | None = None
    liquidations: dict[str, int] = field(default_factory=dict)


Observations = dict[tuple[int, Metric], dict[str, Decimal]]  # (account, metric) -> symbol -> value


MarketKey = tuple[str, str]  # (venue, symbol): market data is per venue


def market_keys(views: Iterable[AccountView]) -> set[MarketKey]:
    return {(v.account.venue, p.symbol) for v in views for p in v.positions}


def risk_inputs_of(
    view: AccountView, ticks: dict[MarketKey, Decimal]
) -> tuple[risk.AccountInput, list[risk.PositionInput]]:
    account = risk.account_input(view.balance)
    venue = view.account.venue
    model = registry.adapter(venue).capabilities.risk_model.value
    return account, [
        risk.position_input(p, ticks.get((venue, p.symbol)), model) for p in view.positions
    ]


def account_risk_of(view: AccountView, ticks: dict[MarketKey, Decimal]) -> risk.AccountRisk:
    return risk.account_risk(*risk_inputs_of(view, ticks))


def scope_health(
    p: Position, pr: risk.PositionRisk, ar: risk.AccountRisk, *, has_balance: bool
) -> Decimal | None:
    """A position's health multiple: its own when isolated, the cross bucket's otherwise (which
    needs the account's balance)."""
    if p.margin_mode == "isolated" and p.holding_margin is not None:
        return pr.health
    return ar.cross_health if has_balance else None


def observe(
    view: AccountView,
    metrics: frozenset[Metric],
    now: datetime,
    *,
    ticks: dict[MarketKey, Decimal],
    funding: dict[MarketKey, Decimal],
) -> dict[Metric, dict[str, Decimal]]:
    """The values each metric has now for one account: symbol ("" = the account) -> value."""
    out: dict[Metric, dict[str, Decimal]] = defaultdict(dict)
    account = view.account
    has_balance = view.balance is not None
    if metrics & (PRICE_METRICS | {Metric.DRAWDOWN_PCT}):
        ar = account_risk_of(view, ticks)
        for p, pr in zip(view.positions, ar.positions, strict=True):
            isolated = p.margin_mode == "isolated" and p.holding_margin is not None
            health = scope_health(p, pr, ar, has_balance=has_balance)
            if health is not None:
                out[Metric.HEALTH][p.symbol] = health
            if pr.distance_pct is not None and (isolated or has_balance):
                out[Metric.LIQ_DISTANCE_PCT][p.symbol] = pr.distance_pct
            out[Metric.POSITION_NOTIONAL][p.symbol] = pr.notional
        if has_balance:
            out[Metric.LEVERAGE][""] = ar.effective_leverage or risk.ZERO
            peak = max(view.peak_equity or ar.equity, ar.equity)
            drawdown = (peak - ar.equity) / peak * risk.HUNDRED if peak > 0 else risk.ZERO
            out[Metric.DRAWDOWN_PCT][""] = drawdown
    for p in view.positions:
        rate = funding.get((account.venue, p.symbol))
        if rate is not None:
            out[Metric.FUNDING_RATE_ABS][p.symbol] = abs(rate)
    for symbol, count in view.liquidations.items():
        out[Metric.LIQUIDATED][symbol] = Decimal(count)
    if Metric.DATA_AGE_S in metrics and account.sync_enabled and account.has_credentials:
        # The newest confirmation by REST or by a live stream: a stream that falls silent
        # stops confirming within seconds, and the age grows from its last heartbeat.
        last = account_freshness(account, now).at or account.verified_at
        if last is not None:
            out[Metric.DATA_AGE_S][""] = Decimal(int((now - last).total_seconds()))
    expiry = Metric.TOKEN_EXPIRY_HOURS in metrics
    if expiry and account.credential_expires_at is not None and account.has_credentials:
        left = (account.credential_expires_at - now).total_seconds() / 3600
        out[Metric.TOKEN_EXPIRY_HOURS][""] = Decimal(int(left))
    return {metric: values for metric, values in out.items() if metric in metrics}


def load_views(
    account_ids: list[int] | None,
    metrics: frozenset[Metric],
    now: datetime,
    *,
    owner_id: int | None = None,
) -> list[AccountView]:
    """Everything :func:`observe` needs for many accounts (or all of one owner's), in a handful
    of queries."""
    if account_ids is None:
        accounts = ExchangeAccount.objects.filter(owner_id=owner_id)
    else:
        accounts = ExchangeAccount.objects.filter(pk__in=any_of(account_ids))
    if metrics & SWEEP_METRICS:
        accounts = with_credential_flags(accounts.select_related("sync_state", "stream_lease"))
    else:  # the price path: a thousand accounts, three fields each
        accounts = accounts.only("pk", "owner_id", "label", "venue")
    views = {a.pk: AccountView(a) for a in accounts}
    if not views:
        return []
    ids = any_of(list(views))
    if metrics - SWEEP_METRICS:
        for p in Position.objects.filter(account_id__in=ids).order_by("account_id", "symbol"):
            views[p.account_id].positions.append(p)
    if metrics & (PRICE_METRICS | {Metric.DRAWDOWN_PCT}):
        latest = (
            BalanceSnapshot.objects.filter(account_id__in=ids)
            .order_by("account_id", "-taken_at")
            .distinct("account_id")
        )
        for b in latest:
            views[b.account_id].balance = b
    if Metric.DRAWDOWN_PCT in metrics:
        peaks = (
            BalanceSnapshot.objects.filter(account_id__in=ids, taken_at__gte=now - DRAWDOWN_WINDOW)
            .values("account_id")
            .annotate(peak=Max("equity"))
        )
        for row in peaks:
            views[row["account_id"]].peak_equity = row["peak"]
    if Metric.LIQUIDATED in metrics:
        recent = (
            Order.objects.filter(
                account_id__in=ids, is_liquidation=True, updated_at__gte=now - LIQUIDATION_WINDOW
            )
            .values("account_id", "symbol")
            .annotate(n=Count("id"))
        )
        for liq in recent:
            views[liq["account_id"]].liquidations[liq["symbol"]] = liq["n"]
    return list(views.values())


def ticks_for(keys: Iterable[MarketKey]) -> dict[MarketKey, Decimal]:
    return ticks_and_expiries_for(keys)[0]


def ticks_and_expiries_for(
    keys: Iterable[MarketKey],
) -> tuple[dict[MarketKey, Decimal], dict[MarketKey, datetime]]:
    """Each market's price tick, and the expiry of those that expire (dated futures), in one
    query."""
    wanted = set(keys)
    rows = MarketSymbol.objects.filter(
        venue__in={v for v, _ in wanted}, symbol__in={s for _, s in wanted}
    )
    found = [s for s in rows if (s.venue, s.symbol) in wanted]
    ticks = {(s.venue, s.symbol): Decimal(1).scaleb(-s.price_tick_decimals) for s in found}
    return ticks, {(s.venue, s.symbol): s.expiry for s in found if s.expiry is not None}


def funding_for(keys: Iterable[MarketKey]) -> dict[MarketKey, Decimal]:
    wanted = set(keys)
    rows = MarketPrice.objects.filter(
        venue__in={v for v, _ in wanted},
        symbol__in={s for _, s in wanted},
        funding_rate__isnull=False,
    )
    return {
        (m.venue, m.symbol): m.funding_rate
        for m in rows
        if (m.venue, m.symbol) in wanted and m.funding_rate is not None
    }


# --- evaluation ------------------------------------------------------------------------------


def _state_of(alert: Alert, key: str, scope: str) -> AlertState:
    return AlertState(
        rule_key=key,
        scope=scope,
        status=Status(alert.status),
        since=alert.since,
        value=alert.value,
        last_notified=alert.last_notified,
        notifications=alert.notifications,
    )


def _q(value: Decimal) -> Decimal:
    # Alert values are stored with 10 decimals; huge ones (a notional) keep their integer part.
    return value.quantize(VALUE_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass
class _Pending:
    """An alert row to create or update, and the event its notification makes."""

    alert: Alert
    rule: Rule
    created: bool
    notification: Notification | None = None
    closed: bool = False


def alert_payload(alert: Alert, account_label: str) -> dict[str, Any]:
    """An alert as the browser's alert centre shows it (JSON primitives only)."""
    return {
        "id": alert.pk,
        "status": alert.status,
        "severity": alert.severity,
        "title": alert.title,
        "body": alert.body,
        "account_id": alert.account_id,
        "account": account_label,
        "symbol": alert.symbol,
        "value": str(alert.value),
        "since": alert.since.isoformat(),
        "fired_at": alert.fired_at.isoformat() if alert.fired_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "acknowledged": alert.acknowledged_at is not None,
        "url": alert_url(alert.account_id, alert.symbol),
        "fix": alert.fix,
        "fix_url": fix_of.fix_url(alert.account_id, alert.symbol) if alert.fix else "",
    }


def _lock_accounts(account_ids: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, id::int) FROM unnest(%s::bigint[]) AS id ORDER BY id",
            [LOCK_NAMESPACE, sorted(account_ids)],
        )


def alerts_evaluate(
    account_ids: Iterable[int],
    *,
    metrics: frozenset[Metric] = ALL_METRICS,
    now: datetime | None = None,
) -> int:
    """Evaluate the users' rules for these accounts; returns the notifications made."""
    ids = sorted(set(account_ids))
    if not ids:
        return 0
    now = now or timezone.now()
    with transaction.atomic():
        _lock_accounts(ids)
        views = load_views(ids, metrics, now)
        keys = market_keys(views)
        ticks = ticks_for(keys) if metrics & PRICE_METRICS else {}
        funding = funding_for(keys) if Metric.FUNDING_RATE_ABS in metrics else {}
        owners = {v.account.owner_id for v in views}
        rules: dict[int, list[tuple[int, Rule]]] = defaultdict(list)
        for user_id, rule_id, *fields in AlertRule.objects.filter(
            user_id__in=any_of(owners), metric__in=list(metrics)
        ).values_list("user_id", "pk", *RULE_FIELDS):
            rules[user_id].append((rule_id, _rule_from_fields(tuple(fields))))
        open_alerts: dict[tuple[int, int], dict[str, Alert]] = defaultdict(dict)
        for found in Alert.objects.filter(
            account_id__in=any_of(ids),
            status__in=OPEN_ALERT_STATUSES,
            rule__metric__in=list(metrics),
        ):
            open_alerts[(found.rule_id, found.account_id)][found.symbol] = found
        work: list[_Pending] = []
        deleted: list[int] = []
        suggest = _Suggestions(keys, ticks)
        for view in views:
            account = view.account
            observed = observe(view, metrics, now, ticks=ticks, funding=funding)
            for rule_id, rule in rules.get(account.owner_id, []):
                values = observed.get(rule.metric, {})
                current = open_alerts.get((rule_id, account.pk), {})
                for symbol in sorted(values.keys() | current.keys()):
                    scope = f"account:{account.pk}:{symbol}" if symbol else f"account:{account.pk}"
                    alert = current.get(symbol)
                    state = _state_of(alert, rule.key, scope) if alert else None
                    closed = symbol not in values and rule.metric not in ZERO_WHEN_ABSENT
                    if closed:
                        assert alert is not None
                        assert state is not None
                        if alert.status == AlertStatus.PENDING:
                            deleted.append(alert.pk)
                            continue
                        value = alert.value
                        new_state: AlertState | None = AlertState(
                            rule.key,
                            scope,
                            Status.RESOLVED,
                            now,
                            value,
                            now,
                            state.notifications + 1,
                        )
                        note: Notification | None = Notification(
                            Kind.RESOLVED, rule.key, scope, rule.severity, value, now
                        )
                    else:
                        value = values.get(symbol, Decimal(0))
                        new_state, note = step(rule, state, scope, value, now)
                    fix = ""
                    if note and note.kind != Kind.RESOLVED and rule.metric == Metric.HEALTH:
                        fix = suggest.sentence(
                            view, [r for _, r in rules[account.owner_id]], symbol
                        )
                    pending = _apply(
                        rule_id, rule, account, symbol, alert, new_state, note, now, fix=fix
                    )
                    if pending is None:
                        if alert is not None and new_state is None:
                            deleted.append(alert.pk)
                        continue
                    pending.closed = closed
                    work.append(pending)
        if deleted:
            Alert.objects.filter(pk__in=deleted).delete()
        made = _save(work, views, now)
        if metrics & PRICE_METRICS:  # a sync or a mark: the pages' numbers moved too
            realtime.publish_portfolio_changed(owners)
        return made


def _apply(
    rule_id: int,
    rule: Rule,
    account: ExchangeAccount,
    symbol: str,
    alert: Alert | None,
    new: AlertState | None,
    note: Notification | None,
    now: datetime,
    *,
    fix: str = "",
) -> _Pending | None:
    """Turn a state change into an alert row to write (None: nothing to write). A notification
    carries ``fix``, the health alert's suggested action (a resolution none)."""
    if new is None:
        return None
    if alert is not None and note is None and new.status == alert.status:
        return None  # same episode, nothing said: no write
    created = alert is None
    if alert is None:
        alert = Alert(
            user_id=account.owner_id,
            account=account,
            rule_id=rule_id,
            symbol=symbol,
            opened_at=now,
            severity=rule.severity.value,
        )
    alert.status = new.status.value
    alert.since = new.since
    alert.value = _q(new.value)
    alert.last_notified = new.last_notified
    alert.notifications = new.notifications
    alert.severity = rule.severity.value
    if new.status == Status.FIRING and alert.fired_at is None:
        alert.fired_at = now
    if new.status == Status.RESOLVED:
        alert.resolved_at = now
    kind = note.kind if note else Kind.FIRED
    alert.title = alert_text.title(kind, rule, account.label, symbol, new.value)[:200]
    if note is not None:
        alert.fix = fix[:200] if note.kind != Kind.RESOLVED else ""
    said = alert_text.body(kind, rule, new.value)
    alert.body = (f"{said} {alert.fix}" if alert.fix else said)[:500]
    return _Pending(alert, rule, created, note)


class _Suggestions:
    """The fixes of one evaluation's accounts, computed only for a health notification."""

    def __init__(self, keys: set[MarketKey], ticks: dict[MarketKey, Decimal]) -> None:
        self.keys, self.ticks = keys, ticks
        self.lots: dict[MarketKey, Lot] | None = None
        self.done: dict[int, dict[str, Fix]] = {}  # account -> symbol -> fix

    def sentence(self, view: AccountView, rules: list[Rule], symbol: str) -> str:
        """ "Reduce SOL-USD by 6 to get back to 2.30×." ("" when no action reaches it)."""
        if self.lots is None:
            self.lots = fix_of.lots_for(self.keys)
        key = view.account.pk  # one owner's rules per account
        if key not in self.done:
            account, positions = risk_inputs_of(view, self.ticks)
            levels = fix_of.levels_of(fix_of.health_rules(rules))
            self.done[key] = fix_of.account_fixes(
                view.account.venue, account, positions, self.lots, levels
            )
        found = self.done[key].get(symbol)
        if found is None or not found.actions:
            return ""
        return alert_text.fix_sentence(found.actions[0], found.target)


ALERT_FIELDS = [
    "status",
    "since",
    "value",
    "last_notified",
    "notifications",
    "severity",
    "fired_at",
    "resolved_at",
    "title",
    "body",
    "fix",
]


def _save(work: list[_Pending], views: list[AccountView], now: datetime) -> int:
    if not work:
        return 0
    labels = {v.account.pk: v.account.label for v in views}
    for w in work:
        if w.closed and w.notification is not None:
            args = (w.notification.kind, w.rule)
            label = labels.get(w.alert.account_id, "")
            value = w.notification.value
            w.alert.title = alert_text.title(*args, label, w.alert.symbol, value, closed=True)
            w.alert.body = alert_text.body(*args, value, closed=True)
            w.alert.fix = ""
    Alert.objects.bulk_create([w.alert for w in work if w.created])
    changed = [w.alert for w in work if not w.created]
    if changed:
        Alert.objects.bulk_update(changed, ALERT_FIELDS)
    notes = [w for w in work if w.notification is not None]
    if not notes:
        return 0
    users = {w.alert.user_id for w in notes}
    settings_rows = {s.user_id: s for s in AlertSettings.objects.filter(user_id__in=any_of(users))}
    events: list[tuple[_Pending, AlertEvent]] = []
    for w in notes:
        note = w.notification
        assert note is not None
        prefs, zone = prefs_of(settings_rows.get(w.alert.user_id))
        local = now.astimezone(zone).time()
        events.append(
            (
                w,
                AlertEvent(
                    alert=w.alert,
                    kind=note.kind.value,
                    severity=note.severity.value,
                    value=_q(note.value),
                    at=now,
                    title=w.alert.title,
                    body=w.alert.body,
                    delivered=deliverable(note, prefs, now=now, local=local),
                ),
            )
        )
    AlertEvent.objects.bulk_create([e for _, e in events])
    push.deliveries_plan([e for _, e in events])
    firing = dict(
        Alert.objects.filter(user_id__in=any_of(users), status=AlertStatus.FIRING)
        .values_list("user_id")
        .annotate(n=Count("id"))
        .values_list("user_id", "n")
    )
    for w, event in events:
        user_id = w.alert.user_id
        realtime.publish_to_user(
            user_id,
            {
                "type": "alert",
                "kind": event.kind,
                "notify": event.delivered,
                # The push to this user's devices carries the same tag: one notification.
                "tag": alert_tag(w.alert.account_id, w.rule.metric.value, w.alert.symbol),
                "event": {
                    "id": event.pk,
                    "title": event.title,
                    "body": event.body,
                    "at": event.at.isoformat(),
                },
                "alert": alert_payload(w.alert, labels.get(w.alert.account_id, "")),
                "firing": firing.get(user_id, 0),
            },
        )
        wants_email = (
            event.severity == Severity.CRITICAL
            and event.kind != Kind.RESOLVED
            and (s := settings_rows.get(user_id)) is not None
            and s.email_critical
            # One email per episode: the "still critical" reminders only for those who asked.
            and (event.kind == Kind.FIRED or s.email_repeats)
        )
        if wants_email:
            queue_after_commit("portfolio.send_alert_email", event.pk)
    return len(events)


def alerts_evaluate_symbol(venue: str, symbol: str, *, now: datetime | None = None) -> int:
    """A new mark for ``symbol`` on ``venue``: re-evaluate the accounts holding it there (the
    same name on another venue is another market)."""
    ids = list(
        Position.objects.filter(account__venue=venue, symbol=symbol).values_list(
            "account_id", flat=True
        )
    )
    return alerts_evaluate(ids, metrics=PRICE_METRICS, now=now)


def alerts_sweep(*, now: datetime | None = None, chunk: int = 500) -> int:
    """Data age and token expiry of every linked account: what no sync can report."""
    linked = ExchangeAccount.objects.filter(
        Exists(Credential.objects.filter(account=OuterRef("pk")))
    )
    ids = list(linked.values_list("pk", flat=True))
    sent = 0
    for start in range(0, len(ids), chunk):
        sent += alerts_evaluate(ids[start : start + chunk], metrics=SWEEP_METRICS, now=now)
    return sent


# --- user actions ----------------------------------------------------------------------------


def alert_acknowledge(*, user_id: int, alert_id: int) -> Alert | None:
    """Mark one of the user's alerts seen (None: not theirs or gone). Every tab hears of it."""
    with transaction.atomic():
        updated = Alert.objects.filter(
            pk=alert_id, user_id=user_id, acknowledged_at__isnull=True
        ).update(acknowledged_at=timezone.now())
        alert = Alert.objects.filter(pk=alert_id, user_id=user_id).first()
        if alert is not None and updated:
            realtime.publish_to_user(user_id, {"type": "alert_ack", "id": alert.pk})
    return alert


def alerts_snooze(*, user_id: int, until: datetime | None) -> None:
    """Hold back non-critical notifications until ``until`` (None: end the snooze)."""
    AlertSettings.objects.update_or_create(user_id=user_id, defaults={"snoozed_until": until})
    realtime.publish_to_user(
        user_id, {"type": "snooze", "until": until.isoformat() if until else None}
    )


@dataclass(frozen=True)
class PreviewRow:
    rule_key: str
    label: str
    where: str
    value: str
    fires: bool  # the value is past the trigger now
    note: str  # "fires now", "fires if it lasts 10 s", "within limits"


def rules_preview(user_id: int, rules: list[tuple[AlertRule, Rule]]) -> list[PreviewRow]:
    """What the given (possibly unsaved) rules make of the user's accounts right now.

    Read-only: nothing is stored or sent. Rows past their trigger come first.
    """
    now = timezone.now()
    ids = list(ExchangeAccount.objects.filter(owner_id=user_id).values_list("pk", flat=True))
    views = load_views(ids, ALL_METRICS, now)
    keys = market_keys(views)
    ticks, funding = ticks_for(keys), funding_for(keys)
    rows: list[PreviewRow] = []
    for view in views:
        observed = observe(view, ALL_METRICS, now, ticks=ticks, funding=funding)
        for row, rule in rules:
            label = alert_text.METRICS[rule.metric].label
            for symbol, value in sorted(observed.get(rule.metric, {}).items()):
                fires = rule.enabled and rule.bad(value)
                if not rule.enabled:
                    note = "rule off"
                elif not fires:
                    note = "within limits"
                elif rule.pending:
                    note = f"fires if it lasts {int(rule.pending.total_seconds())} s"
                else:
                    note = "fires now"
                rows.append(
                    PreviewRow(
                        rule_key=row.key,
                        label=label,
                        where=alert_text.scope_name(view.account.label, symbol),
                        value=alert_text.fmt_value(rule.metric, value),
                        fires=fires,
                        note=note,
                    )
                )
    rows.sort(key=lambda r: not r.fires)
    return rows


def rules_save(user_id: int, formset: Any, settings_form: Any) -> None:
    """Save edited rules and settings, then re-evaluate the user's accounts at once so a
    changed threshold fires (or resolves) without waiting for the next mark."""
    with transaction.atomic():
        for form in formset.forms:
            if form.instance.user_id == user_id:
                form.save()
        settings_form.save()
    ids = list(ExchangeAccount.objects.filter(owner_id=user_id).values_list("pk", flat=True))
    alerts_evaluate(ids, now=timezone.now())
