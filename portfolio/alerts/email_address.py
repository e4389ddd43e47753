"""The address critical alerts are emailed to: set it, prove it with a signed link, use it.

The link carries a ``TimestampSigner`` token of (user, address), so it verifies only that
address for that user, and only for ``VERIFY_MAX_AGE``; changing the address voids it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from portfolio.jobs import queue_after_commit
from portfolio.models import AlertSettings

logger = logging.getLogger(__name__)

SALT = "portfolio.alert-email"
VERIFY_MAX_AGE = timedelta(days=2)
VERIFY_TASK = "portfolio.send_email_verification"


def email_set(user_id: int, email: str) -> None:
    """Keep the new address unverified and send it a link (after the request commits)."""
    AlertSettings.objects.filter(user_id=user_id).update(email=email, email_verified_at=None)
    if email:
        queue_after_commit(VERIFY_TASK, user_id)


def verification_token(user_id: int, email: str) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object({"u": user_id, "e": email})


def verification_send(user_id: int) -> bool:
    """Email the signed link to the user's unverified address (a Celery task: no transaction
    is open around the send)."""
    prefs = AlertSettings.objects.filter(user_id=user_id).first()
    if prefs is None or not prefs.email or prefs.email_verified_at is not None:
        return False
    path = reverse("portfolio:email_verify", args=[verification_token(user_id, prefs.email)])
    send_mail(
        subject="[StandX Portfolio] Confirm the address for critical alerts",
        message=(
            "Open this link to have critical alerts emailed to this address:\n\n"
            f"{settings.SITE_URL}{path}\n\n"
            f"It works for {VERIFY_MAX_AGE.days} days. If you did not ask for this, ignore it."
        ),
        from_email=None,
        recipient_list=[prefs.email],
    )
    return True


def email_verify(user_id: int, token: str) -> str | None:
    """The address the token proves, now verified; None when the token is bad, expired, for
    another user or for an address no longer set."""
    try:
        data = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=VERIFY_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("u") != user_id:
        return None
    email = str(data.get("e") or "")
    verified = AlertSettings.objects.filter(user_id=user_id, email=email).exclude(email="")
    if not verified.update(email_verified_at=timezone.now()):
        return None
    logger.info("user %s verified an alert email address", user_id)
    return email
