"""The email fallback for critical alerts, through Django's email backend."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q
from django.utils import timezone

from portfolio.alerts.deliveries import delivery_record
from portfolio.alerts.fixes import fix_url
from portfolio.alerts.links import alert_url
from portfolio.models import (
    AlertDelivery,
    AlertEvent,
    AlertSettings,
    DeliveryChannel,
    DeliveryStatus,
)

logger = logging.getLogger(__name__)


NO_ADDRESS = "Not emailed: no verified email address is set (Alert rules, Email)."
# A claim older than this was left by a worker that died mid-send: a retry may take it over.
STALE_CLAIM = timedelta(minutes=10)


def alert_email_send(event_id: int) -> bool:
    """Email one alert event to its user's verified address; True when handed to the backend.

    The event's email delivery row is the claim (one per event, by its unique constraint), so
    a retried or duplicated task sends nothing twice. No transaction is held across the send;
    ``emailed_at`` is set only once the backend took the mail, and a failed send gives the
    claim back for the task's retry.
    """
    event = AlertEvent.objects.select_related("alert").filter(pk=event_id).first()
    if event is None or event.emailed_at is not None:
        return False
    prefs = AlertSettings.objects.filter(user_id=event.alert.user_id).first()
    address = prefs.verified_email if prefs else ""
    if not address:
        delivery_record(
            event_id=event_id,
            channel=DeliveryChannel.EMAIL,
            status=DeliveryStatus.SKIPPED,
            detail=NO_ADDRESS,
        )
        return False
    if not _claim(event_id):
        return False
    link = f"{settings.SITE_URL}{alert_link(event)}"
    fix = ""
    if event.alert.fix:
        form = f"{settings.SITE_URL}{fix_url(event.alert.account_id, event.alert.symbol)}"
        fix = (
            f"{event.alert.fix} Open it filled in, with its preview (nothing is sent until you "
            f"confirm): {form}\n\n"
        )
    try:
        send_mail(
            subject=f"[StandX Portfolio] {event.title}",
            message=(
                f"{event.title}\n\n{event.body}\n\n{fix}"
                f"Open the dashboard: {link}\n\n"
                "You receive this because critical alerts are emailed; turn it off on the "
                "alert rules page."
            ),
            from_email=None,
            recipient_list=[address],
        )
    except Exception as exc:
        _settle(
            event_id,
            DeliveryStatus.FAILED,
            f"The mail server refused it ({type(exc).__name__}); retrying.",
        )
        raise
    now = timezone.now()
    AlertEvent.objects.filter(pk=event_id).update(emailed_at=now)
    _settle(event_id, DeliveryStatus.SENT, "Emailed to your verified address.")
    return True


def _claim(event_id: int) -> bool:
    now = timezone.now()
    row, created = AlertDelivery.objects.get_or_create(
        event_id=event_id,
        target=DeliveryChannel.EMAIL,
        defaults={
            "channel": DeliveryChannel.EMAIL,
            "status": DeliveryStatus.SENDING,
            "detail": "Sending.",
            "attempts": 1,
            "created_at": now,
            "updated_at": now,
        },
    )
    if created:
        return True
    # Taken back only after a failure, or from a worker that died while sending.
    retry = Q(status=DeliveryStatus.FAILED) | Q(
        status=DeliveryStatus.SENDING, updated_at__lt=now - STALE_CLAIM
    )
    taken = AlertDelivery.objects.filter(retry, pk=row.pk).update(
        status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, updated_at=now
    )
    return bool(taken)


def _settle(event_id: int, status: str, detail: str) -> None:
    AlertDelivery.objects.filter(event_id=event_id, target=DeliveryChannel.EMAIL).update(
        status=status, detail=detail, updated_at=timezone.now()
    )


def alert_link(event: AlertEvent) -> str:
    return alert_url(event.alert.account_id, event.alert.symbol)
