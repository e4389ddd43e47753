"""Web Push: the devices a user subscribed, and one send per device per alert event.

Sending follows ``notify.py``: claim the delivery row with a conditional UPDATE, send outside
any transaction, record the outcome. One device's failure never touches another's row. A 404 or
410 means the browser dropped the subscription: the device is removed. A 429, a 5xx or a network
error is retried with backoff (the push service's ``Retry-After`` when it gives one) up to
:data:`MAX_ATTEMPTS`; anything else fails in words on the delivery and the device.

pywebpush writes ``aud`` and ``exp`` into the claims it is given, so every call gets a fresh
dict; its default TTL (0) and timeout (none) are never used.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from portfolio.alerts.fixes import fix_url
from portfolio.alerts.links import alert_url
from portfolio.domain import push_message
from portfolio.domain.devices import Subscription, device_label, subscription_parse
from portfolio.domain.push_message import PushMessage
from portfolio.jobs import URGENT_QUEUE, queue_after_commit
from portfolio.models import (
    AlertDelivery,
    AlertEvent,
    DeliveryChannel,
    DeliveryStatus,
    PushSubscription,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_BACKOFF_S = 300
# A claim older than this belongs to a worker that died mid-send: the delivery may go again.
STALE_CLAIM = timedelta(minutes=2)
SEND_TASK = "portfolio.send_push"
SESSION_DEVICES = "push_devices"  # the subscriptions a login session made (detached at logout)


def push_available() -> bool:
    return bool(settings.WEB_PUSH_ENABLED and settings.VAPID is not None)


def public_key() -> str:
    """The ``applicationServerKey`` browsers subscribe with ("" when push is unavailable)."""
    return settings.VAPID.public_key if push_available() and settings.VAPID else ""


# --- subscriptions ---------------------------------------------------------------------------


def _parse(data: object) -> Subscription:
    return subscription_parse(
        data,
        service_hosts=settings.WEB_PUSH_SERVICE_HOSTS,
        allow_any_endpoint=settings.WEB_PUSH_ALLOW_ANY_ENDPOINT,
    )


def subscription_save(*, user_id: int, data: object, user_agent: str) -> PushSubscription:
    """Store (or move to this user) a browser's subscription. Raises ``SubscriptionError``."""
    sub = _parse(data)
    row, _ = PushSubscription.objects.update_or_create(
        endpoint=sub.endpoint,
        defaults={
            "user_id": user_id,
            "p256dh": sub.p256dh,
            "auth": sub.auth,
            "device_label": device_label(user_agent)[:80],
            "failures": 0,
            "last_error": "",
        },
        create_defaults={
            "user_id": user_id,
            "p256dh": sub.p256dh,
            "auth": sub.auth,
            "device_label": device_label(user_agent)[:80],
            "created_at": timezone.now(),
        },
    )
    return row


def subscription_renew(
    *, user_id: int, old_endpoint: str | None, data: object, user_agent: str
) -> PushSubscription:
    """The service worker's ``pushsubscriptionchange``: the browser rotated the subscription.
    The device keeps its row (name, history) when the old endpoint was this user's."""
    sub = _parse(data)
    with transaction.atomic():
        old = (
            PushSubscription.objects.select_for_update()
            .filter(user_id=user_id, endpoint=old_endpoint)
            .first()
            if old_endpoint
            else None
        )
        if old is None or old.endpoint == sub.endpoint:
            return subscription_save(user_id=user_id, data=data, user_agent=user_agent)
        PushSubscription.objects.filter(endpoint=sub.endpoint).exclude(pk=old.pk).delete()
        old.endpoint, old.p256dh, old.auth = sub.endpoint, sub.p256dh, sub.auth
        old.failures, old.last_error = 0, ""
        old.save(update_fields=["endpoint", "p256dh", "auth", "failures", "last_error"])
        return old


def subscription_remove(*, user_id: int, subscription_id: int) -> bool:
    deleted, _ = PushSubscription.objects.filter(pk=subscription_id, user_id=user_id).delete()
    return bool(deleted)


def subscription_remove_endpoint(*, user_id: int, endpoint: str) -> bool:
    deleted, _ = PushSubscription.objects.filter(endpoint=endpoint, user_id=user_id).delete()
    return bool(deleted)


def subscriptions_detach(*, user_id: int, subscription_ids: list[int]) -> int:
    """Logging a device out stops its pushes (the ids it subscribed are kept in its login
    session): whoever uses the browser next gets none of this user's alerts."""
    deleted, _ = PushSubscription.objects.filter(user_id=user_id, pk__in=subscription_ids).delete()
    return deleted


# --- deliveries ------------------------------------------------------------------------------


def deliveries_plan(events: list[AlertEvent]) -> list[int]:
    """Inside the evaluation's transaction: one queued push delivery per device of each event's
    user (events held back by quiet hours or snooze get none), each sent by a task after commit.
    Returns the delivery ids."""
    if not push_available():
        return []
    wanted = [e for e in events if e.delivered]
    users = {e.alert.user_id for e in wanted}
    if not users:
        return []
    devices: dict[int, list[tuple[int, str]]] = {}
    for pk, user_id, label in PushSubscription.objects.filter(user_id__in=users).values_list(
        "pk", "user_id", "device_label"
    ):
        devices.setdefault(user_id, []).append((pk, label))
    now = timezone.now()
    rows = [
        AlertDelivery(
            event=event,
            channel=DeliveryChannel.PUSH,
            target=f"push:{pk}",
            subscription_id=pk,
            device_label=label,
            status=DeliveryStatus.QUEUED,
            created_at=now,
            updated_at=now,
        )
        for event in wanted
        for pk, label in devices.get(event.alert.user_id, [])
    ]
    if not rows:
        return []
    AlertDelivery.objects.bulk_create(rows)
    ids = [r.pk for r in rows]
    for delivery_id in ids:
        queue_after_commit(SEND_TASK, delivery_id, queue=URGENT_QUEUE)
    return ids


def message_for(event: AlertEvent) -> PushMessage:
    alert = event.alert
    return push_message.alert_message(
        event_id=event.pk,
        alert_id=alert.pk,
        kind=event.kind,
        severity=event.severity,
        title=event.title,
        body=event.body,
        tag=push_message.alert_tag(alert.account_id, alert.rule.metric, alert.symbol),
        # A health alert with a fix opens its pre-filled order (or margin) form: never a send.
        url=fix_url(alert.account_id, alert.symbol)
        if alert.fix and event.kind != "resolved"
        else alert_url(alert.account_id, alert.symbol),
        at=event.at,
    )


@dataclass(frozen=True)
class Outcome:
    status: str  # a DeliveryStatus
    detail: str  # plain words, never the endpoint or a key
    retry_in: float | None = None  # seconds, when the failure is transient and tries are left


_local = threading.local()


def _session() -> requests.Session:
    # Keep-alive to the push services: a critical alert should not wait for a TLS handshake.
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


@lru_cache(maxsize=2)
def _signer(private_key: str) -> Vapid:
    return Vapid.from_raw(private_key.encode())


def _backoff(attempt: int, retry_after: str | None) -> float:
    if retry_after and retry_after.strip().isdigit():
        return float(min(MAX_BACKOFF_S, int(retry_after)))
    return min(MAX_BACKOFF_S, 5 * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)  # noqa: S311


def _send(sub: PushSubscription, message: PushMessage, attempt: int) -> Outcome:
    """One POST to the device's push service (network; no transaction is open)."""
    vapid = settings.VAPID
    assert vapid is not None
    try:
        response = webpush(
            subscription_info={
                "endpoint": sub.endpoint,
                "keys": {"p256dh": sub.p256dh, "auth": sub.auth},
            },
            data=json.dumps(message.payload, separators=(",", ":")),
            vapid_private_key=_signer(vapid.private_key),
            vapid_claims={"sub": vapid.subject},  # a fresh dict: pywebpush writes into it
            ttl=message.ttl,
            timeout=settings.WEB_PUSH_TIMEOUT,
            headers={"Urgency": message.urgency, "Topic": message.topic},
            requests_session=_session(),
        )
    except WebPushException as exc:
        code = exc.status_code
        if code in (404, 410):
            return Outcome(
                DeliveryStatus.GONE,
                f"The push service says this device unsubscribed ({code}); it was removed.",
            )
        if code == 429 or (code is not None and code >= 500):
            words = "is rate-limiting us" if code == 429 else "had an error"
            detail = f"The push service {words} ({code})."
            if attempt < MAX_ATTEMPTS:
                return Outcome(DeliveryStatus.FAILED, detail, _backoff(attempt, exc.retry_after))
            return Outcome(DeliveryStatus.FAILED, f"{detail} Gave up after {attempt} tries.")
        if code in (401, 403):
            return Outcome(
                DeliveryStatus.FAILED,
                f"The push service refused our signature ({code}): the server's VAPID key may "
                "have changed since this device subscribed. Turn push off and on on it.",
            )
        if code == 413:
            return Outcome(DeliveryStatus.FAILED, "The push service found the message too large.")
        return Outcome(DeliveryStatus.FAILED, f"The push service refused the message ({code}).")
    except requests.RequestException as exc:
        detail = f"The push service could not be reached ({type(exc).__name__})."
        if attempt < MAX_ATTEMPTS:
            return Outcome(DeliveryStatus.FAILED, detail, _backoff(attempt, None))
        return Outcome(DeliveryStatus.FAILED, f"{detail} Gave up after {attempt} tries.")
    return Outcome(
        DeliveryStatus.ACCEPTED, f"Accepted by the push service ({response.status_code})."
    )


def _record_device(sub: PushSubscription, outcome: Outcome) -> None:
    now = timezone.now()
    if outcome.status == DeliveryStatus.GONE:
        PushSubscription.objects.filter(pk=sub.pk).delete()
    elif outcome.status == DeliveryStatus.ACCEPTED:
        PushSubscription.objects.filter(pk=sub.pk).update(
            last_success_at=now, failures=0, last_error=""
        )
    else:
        PushSubscription.objects.filter(pk=sub.pk).update(
            last_failure_at=now, failures=F("failures") + 1, last_error=outcome.detail[:200]
        )


def push_deliver(delivery_id: int) -> Outcome:
    """Send one queued push delivery. At most one worker holds it at a time; a transient
    failure puts it back in the queue and says when to try again (``retry_in``)."""
    now = timezone.now()
    claimed = (
        AlertDelivery.objects.filter(pk=delivery_id)
        .filter(
            Q(status=DeliveryStatus.QUEUED)
            | Q(status=DeliveryStatus.SENDING, updated_at__lt=now - STALE_CLAIM)
        )
        .update(status=DeliveryStatus.SENDING, attempts=F("attempts") + 1, updated_at=now)
    )
    if not claimed:
        return Outcome(DeliveryStatus.SKIPPED, "already sent or being sent")
    delivery = AlertDelivery.objects.select_related("event__alert__rule", "subscription").get(
        pk=delivery_id
    )
    sub = delivery.subscription
    message = message_for(delivery.event)
    if sub is None:
        outcome = Outcome(DeliveryStatus.SKIPPED, "The device was removed before it was sent.")
    elif not push_available():
        outcome = Outcome(DeliveryStatus.SKIPPED, "Push was turned off on the server.")
    elif timezone.now().timestamp() * 1000 > message.payload["expires"]:
        outcome = Outcome(DeliveryStatus.FAILED, "Too old to matter by the time it could go.")
    else:
        outcome = _send(sub, message, delivery.attempts)
        _record_device(sub, outcome)
    AlertDelivery.objects.filter(pk=delivery_id).update(
        status=DeliveryStatus.QUEUED if outcome.retry_in is not None else outcome.status,
        detail=(
            f"{outcome.detail} Trying again in {outcome.retry_in:.0f} s."
            if outcome.retry_in is not None
            else outcome.detail
        )[:200],
        updated_at=timezone.now(),
    )
    return outcome


def push_send_check(*, user_id: int, subscription_id: int) -> Outcome | None:
    """Send a test alert to one of the user's devices now (None: not theirs, or gone)."""
    sub = PushSubscription.objects.filter(pk=subscription_id, user_id=user_id).first()
    if sub is None or not push_available():
        return None
    message = push_message.check_message(
        device=sub.device_label, url=reverse("portfolio:devices"), at=timezone.now()
    )
    outcome = _send(sub, message, attempt=MAX_ATTEMPTS)  # the user is waiting: no retry
    _record_device(sub, outcome)
    return outcome
