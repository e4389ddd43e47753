"""Where each alert event went, recorded once per event and target (the alert history shows it).

Push deliveries are planned and settled by :mod:`portfolio.alerts.push`; this module records
the page (an open tab reported that it received the event) and the email.
"""

from __future__ import annotations

from django.utils import timezone

from portfolio.models import AlertDelivery, AlertEvent, DeliveryChannel, DeliveryStatus


def delivery_record(*, event_id: int, channel: str, status: str, detail: str) -> None:
    """One row per event and channel (page, email); a later report of the same one is kept
    out by the unique (event, target) constraint."""
    now = timezone.now()
    AlertDelivery.objects.bulk_create(
        [
            AlertDelivery(
                event_id=event_id,
                channel=channel,
                target=channel,
                status=status,
                detail=detail[:200],
                attempts=1,
                created_at=now,
                updated_at=now,
            )
        ],
        ignore_conflicts=True,
    )


def page_shown(*, user_id: int, event_id: int, notified: bool) -> bool:
    """An open tab of the user received the event (and raised a notification, or not)."""
    if not AlertEvent.objects.filter(pk=event_id, alert__user_id=user_id).exists():
        return False
    delivery_record(
        event_id=event_id,
        channel=DeliveryChannel.PAGE,
        status=DeliveryStatus.SHOWN,
        detail="An open tab showed it as a notification."
        if notified
        else "An open tab showed it in the alert centre.",
    )
    return True
