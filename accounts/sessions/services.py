"""Signed-in sessions: recorded at sign-in, touched as they are used, ended from the Sessions
page or when the password or a second factor changes. New devices are announced by email."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.sessions.models import KnownDevice, UserSession
from accounts.sessions.store import stored_key

logger = logging.getLogger(__name__)

DEVICE_COOKIE = "standx_device"
DEVICE_COOKIE_AGE = 400 * 24 * 3600  # browsers cap cookies at 400 days
TOUCH_EVERY = timedelta(minutes=1)
_TOUCHED = "session_seen_at"


def client_ip(request: HttpRequest) -> str | None:
    # Behind a trusted proxy the proxy sets REMOTE_ADDR correctly (see the deployment notes).
    return request.META.get("REMOTE_ADDR") or None


def _user_agent(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))[:300]


def _key_hash(request: HttpRequest) -> str | None:
    key = request.session.session_key
    return stored_key(key) if key else None


def session_record(*, request: HttpRequest, user: User) -> UserSession | None:
    """Called right after ``login()``: this browser's session joins the user's list."""
    key_hash = _key_hash(request)
    if key_hash is None:
        return None
    now = timezone.now()
    request.session[_TOUCHED] = now.timestamp()
    session, _ = UserSession.objects.update_or_create(
        key_hash=key_hash,
        defaults={
            "user": user,
            "last_seen_at": now,
            "ip": client_ip(request),
            "user_agent": _user_agent(request),
        },
    )
    return session


def session_touch(*, request: HttpRequest, user: User) -> None:
    """Refresh last seen (at most once a minute per session, so a page is not a write)."""
    now = timezone.now()
    seen = request.session.get(_TOUCHED)
    if isinstance(seen, int | float) and now.timestamp() - seen < TOUCH_EVERY.total_seconds():
        return
    key_hash = _key_hash(request)
    if key_hash is None:
        return
    request.session[_TOUCHED] = now.timestamp()
    fields = {"last_seen_at": now, "ip": client_ip(request), "user_agent": _user_agent(request)}
    if not UserSession.objects.filter(key_hash=key_hash, user=user).update(**fields):
        # A session from before this list existed.
        UserSession.objects.get_or_create(key_hash=key_hash, defaults={"user": user, **fields})


def sessions_of(user: User) -> list[UserSession]:
    """The user's live sessions (rows whose session has expired or ended are dropped)."""
    live = set(
        Session.objects.filter(
            session_key__in=UserSession.objects.filter(user=user).values("key_hash"),
            expire_date__gt=timezone.now(),
        ).values_list("session_key", flat=True)
    )
    UserSession.objects.filter(user=user).exclude(key_hash__in=live).delete()
    return list(UserSession.objects.filter(user=user))


@transaction.atomic
def session_end(*, user: User, session_id: int) -> bool:
    """Sign one of the user's sessions out. False if it is not theirs (or already gone)."""
    row = UserSession.objects.filter(user=user, pk=session_id).first()
    if row is None:
        return False
    Session.objects.filter(session_key=row.key_hash).delete()
    row.delete()
    return True


@transaction.atomic
def sessions_end_others(*, user: User, request: HttpRequest | None = None) -> int:
    """Sign out every session of ``user`` but the one making ``request``. Returns how many."""
    keep = _key_hash(request) if request is not None else None
    others = UserSession.objects.filter(user=user)
    if keep is not None:
        others = others.exclude(key_hash=keep)
    keys = list(others.values_list("key_hash", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    count, _ = others.delete()
    return count


def _device_hash(device_id: str) -> str:
    return hashlib.sha256(device_id.encode()).hexdigest()


def device_check(*, request: HttpRequest, response: HttpResponse, user: User) -> bool:
    """Remember this browser for ``user``; email the user when it is new to them. Returns
    whether it was new. The device cookie is random and signed; only its hash is stored."""
    device_id = request.get_signed_cookie(DEVICE_COOKIE, default="", salt=DEVICE_COOKIE) or ""
    if not device_id:
        device_id = secrets.token_urlsafe(24)
    response.set_signed_cookie(
        DEVICE_COOKIE,
        device_id,
        salt=DEVICE_COOKIE,
        max_age=DEVICE_COOKIE_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    _, created = KnownDevice.objects.get_or_create(
        user=user,
        device_hash=_device_hash(device_id),
        defaults={"user_agent": _user_agent(request)},
    )
    if created and user.email:
        ip, agent, when = client_ip(request), _user_agent(request), timezone.now()
        transaction.on_commit(lambda: _send_new_device_mail(user, ip, agent, when))
    return created


def _send_new_device_mail(user: User, ip: str | None, agent: str, when: object) -> None:
    sessions_url = settings.SITE_URL + reverse("sessions")
    body = (
        f"Someone signed in to your StandX Portfolio account “{user.get_username()}” from a "
        f"browser it had not seen before.\n\n"
        f"When: {when:%Y-%m-%d %H:%M %Z}\nAddress: {ip or 'unknown'}\n"
        f"Browser: {agent or 'unknown'}\n\n"
        f"If this was you, there is nothing to do. If not, change your password now and sign "
        f"out the sessions you do not recognise: {sessions_url}\n"
    )
    try:
        send_mail("New sign-in to StandX Portfolio", body, None, [user.email], fail_silently=False)
    except OSError:
        # The sign-in itself stands; the mail server's trouble is the operator's to see.
        logger.warning("Could not send the new-device email for user %s", user.pk)
