"""The email fallback for critical alerts, through Django's email backend."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from portfolio.alerts.deliveries import delivery_record
from portfolio.models import AlertEvent, DeliveryChannel, DeliveryStatus

logger = logging.getLogger(__name__)


def alert_email_send(event_id: int) -> bool:
    """Email one alert event to its user. Idempotent: the event is claimed by a conditional
    UPDATE first, so a retried or duplicated task sends nothing twice."""
    with transaction.atomic():
        claimed = AlertEvent.objects.filter(pk=event_id, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if not claimed:
            return False
        event = AlertEvent.objects.select_related("alert__user").get(pk=event_id)
        user = event.alert.user
        if not user.email:
            delivery_record(
                event_id=event_id,
                channel=DeliveryChannel.EMAIL,
                status=DeliveryStatus.SKIPPED,
                detail="Not emailed: your login has no email address.",
            )
            return False
        link = f"{settings.SITE_URL}{alert_link(event)}"
        send_mail(
            subject=f"[StandX Portfolio] {event.title}",
            message=(
                f"{event.title}\n\n{event.body}\n\n"
                f"Open the dashboard: {link}\n\n"
                "You receive this because critical alerts are emailed; turn it off on the "
                "alert rules page."
            ),
            from_email=None,
            recipient_list=[user.email],
        )  # an SMTP failure raises: the claim rolls back and the task retries
        delivery_record(
            event_id=event_id,
            channel=DeliveryChannel.EMAIL,
            status=DeliveryStatus.SENT,
            detail="Emailed to the address on your login.",
        )
    return True


def alert_link(event: AlertEvent) -> str:
    from portfolio.alerts.evaluation import alert_url

    return alert_url(event.alert.account_id, event.alert.symbol)
