"""One-time sign-in links, emailed to the account's address: the owner's way past the
account-wide ceiling when sign-in by password alone is paused. A link never replaces the
password (or the second factor): it only lets the browser that opens it try them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import throttle
from accounts.models import User
from accounts.signin.models import SignInLink

LIFETIME = timedelta(minutes=15)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def signin_link_send(*, username: str, ip: str | None) -> None:
    """Email a link if the account exists and has an address. Says nothing either way (the
    page's answer is the same), and sends at most a few an hour per account and per address."""
    address = ip or "unknown"
    if throttle.locked_for(throttle.LINK_ADDRESS, address) or throttle.locked_for(
        throttle.LINK_ACCOUNT, username
    ):
        return
    throttle.record_failure(throttle.LINK_ADDRESS, address)
    throttle.record_failure(throttle.LINK_ACCOUNT, username)
    user = User.objects.filter(username=username, is_active=True).exclude(email="").first()
    if user is None:
        return
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        SignInLink.objects.filter(user=user, expires_at__lt=timezone.now()).delete()
        SignInLink.objects.create(
            user=user, token_hash=_digest(token), expires_at=timezone.now() + LIFETIME
        )
    url = settings.SITE_URL + reverse("signin_link_open", args=[token])
    body = (
        f"Someone asked for a sign-in link for your StandX Portfolio account "
        f"“{user.get_username()}”, whose sign-in by password alone is paused after many failed "
        f"attempts.\n\nOpen this link within 15 minutes, in the browser you sign in with, then "
        f"sign in as usual with your password:\n{url}\n\nIf this was not you, someone is "
        f"guessing your password: ignore this mail, and consider a longer password and a second "
        f"factor.\n"
    )
    transaction.on_commit(
        lambda: send_mail("Your StandX Portfolio sign-in link", body, None, [user.email])
    )


@transaction.atomic
def signin_link_use(*, token: str) -> User | None:
    """The link's user, once: a used, expired or unknown link gives None."""
    link = (
        SignInLink.objects.select_for_update()
        .filter(token_hash=_digest(token), used_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("user")
        .first()
    )
    if link is None:
        return None
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    return link.user
