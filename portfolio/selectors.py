"""Read-side queries for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from portfolio.alerting import alert_payload
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
