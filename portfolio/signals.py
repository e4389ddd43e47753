"""Signal handlers: the worker's first heartbeat, a new user's default alert rules, and the
push devices a logout detaches."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from portfolio.health import WORKER_HEARTBEAT_KEY, record_heartbeat


@worker_ready.connect
def _heartbeat_on_start(**kwargs: Any) -> None:
    # A fresh worker is healthy at once instead of after the first beat tick.
    record_heartbeat(WORKER_HEARTBEAT_KEY)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _default_alert_rules(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    # Every user starts with sensible alert rules (editable on the rules page).
    if created and not raw:
        from portfolio.alerts.evaluation import rules_create_defaults

        rules_create_defaults(instance.pk)


@receiver(user_logged_out)
def _detach_push_devices(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # A browser logged out gets no more of this user's alerts (the page also unsubscribes).
    if request is None or user is None:
        return
    from portfolio.alerts.push import SESSION_DEVICES, subscriptions_detach

    ids = [i for i in request.session.get(SESSION_DEVICES, []) if isinstance(i, int)]
    if ids:
        subscriptions_detach(user_id=user.pk, subscription_ids=ids)
