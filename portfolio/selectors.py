"""Read-side queries for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import StandXAccount
from portfolio.alerting import alert_payload
from portfolio.alerts import Metric
from portfolio.models import Alert, AlertEvent, AlertSettings, AlertStatus
from standx_web.health import health_report

CENTRE_RECENT = 20


def firing_count(user_id: int) -> int:
    return Alert.objects.filter(user_id=user_id, status=AlertStatus.FIRING).count()


def alert_centre_for_user(user_id: int) -> dict[str, Any]:
    """The alert centre: firing alerts (newest first), recent notifications, snooze."""
    firing = (
        Alert.objects.filter(user_id=user_id, status=AlertStatus.FIRING)
        .select_related("account")
        .order_by("-fired_at", "-id")
    )
    recent = (
        AlertEvent.objects.filter(alert__user_id=user_id)
        .select_related("alert")
        .order_by("-at", "-id")[:CENTRE_RECENT]
    )
    settings = AlertSettings.objects.filter(user_id=user_id).first()
    snoozed = settings.snoozed_until if settings else None
    return {
        "firing": [alert_payload(a, a.account.label) for a in firing],
        "recent": [
            {
                "id": e.pk,
                "alert_id": e.alert_id,
                "kind": e.kind,
                "severity": e.severity,
                "title": e.title,
                "body": e.body,
                "at": e.at.isoformat(),
            }
            for e in recent
        ],
        "snoozed_until": snoozed.isoformat() if snoozed and snoozed > timezone.now() else None,
    }


def live_state_for_user(user: Any) -> dict[str, Any]:
    """What a freshly (re)connected browser needs: who it is, how the system is, its alerts."""
    health = health_report()
    return {
        "username": user.get_username(),
        "server_time": timezone.now().isoformat(),
        "system": {name: health[name] for name in ("database", "redis", "worker", "pricestream")},
        "alerts": alert_centre_for_user(user.pk),
    }


@dataclass(frozen=True)
class AlertPage:
    rows: list[Alert]
    next_before: int | None  # the keyset cursor of the next (older) page


def alert_history(
    user_id: int, *, status: str | None = None, before_id: int | None = None, limit: int = 50
) -> AlertPage:
    """The user's alerts newest first, with their notifications; keyset-paginated by id."""
    query = Alert.objects.filter(user_id=user_id).exclude(status=AlertStatus.PENDING)
    if status:
        query = query.filter(status=status)
    if before_id is not None:
        query = query.filter(pk__lt=before_id)
    rows = list(
        query.select_related("account", "rule")
        .prefetch_related(Prefetch("events", AlertEvent.objects.order_by("at", "id")))
        .order_by("-id")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AlertPage(rows, rows[-1].pk if more and rows else None)


@dataclass(frozen=True)
class PositionRow:
    anchor: str  # "pos-<account id>-<symbol>": where an alert's link lands
    account: str
    symbol: str
    side: str
    size: Decimal
    entry: Decimal
    mark: Decimal | None
    notional: Decimal
    upnl: Decimal
    roe_pct: Decimal | None
    leverage: Decimal | None
    margin_mode: str
    liq_price: Decimal | None
    exchange_liq_price: Decimal | None
    distance_pct: Decimal | None
    health: Decimal | None
    level: str  # "", "warn" or "bad" by the user's own health rules


def positions_for_user(user_id: int) -> list[PositionRow]:
    """Every open position of the user's accounts with its risk, worst health first."""
    from portfolio.alerting import ALL_METRICS, account_risk_of, load_views, ticks_for
    from portfolio.models import AlertRule

    ids = list(StandXAccount.objects.filter(owner_id=user_id).values_list("pk", flat=True))
    views = load_views(ids, ALL_METRICS - {Metric.DRAWDOWN_PCT, Metric.LIQUIDATED}, timezone.now())
    ticks = ticks_for({p.symbol for v in views for p in v.positions})
    levels = dict(
        AlertRule.objects.filter(
            user_id=user_id, key__in=["health-warning", "health-critical"], enabled=True
        ).values_list("key", "trigger")
    )
    rows: list[PositionRow] = []
    for view in views:
        ar = account_risk_of(view, ticks)
        for p, pr in zip(view.positions, ar.positions, strict=True):
            isolated = p.margin_mode == "isolated" and p.holding_margin is not None
            health = pr.health if isolated else (ar.cross_health if view.balance else None)
            level = ""
            if health is not None:
                if "health-critical" in levels and health < levels["health-critical"]:
                    level = "bad"
                elif "health-warning" in levels and health < levels["health-warning"]:
                    level = "warn"
            rows.append(
                PositionRow(
                    anchor=f"pos-{view.account.pk}-{p.symbol}",
                    account=view.account.label,
                    symbol=p.symbol,
                    side=pr.side,
                    size=abs(p.qty),
                    entry=p.entry_price,
                    mark=p.mark_price,
                    notional=pr.notional,
                    upnl=pr.upnl,
                    roe_pct=pr.roe * 100 if pr.roe is not None else None,
                    leverage=p.leverage,
                    margin_mode=p.margin_mode,
                    liq_price=pr.liq_price,
                    exchange_liq_price=p.liq_price,
                    distance_pct=pr.distance_pct,
                    health=health,
                    level=level,
                )
            )
    rows.sort(key=lambda r: (r.health is None, r.health or 0))
    return rows
