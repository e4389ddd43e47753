"""Signal handlers: the worker's first heartbeat, and a new user's default alert rules."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready
from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from standx_web.health import WORKER_HEARTBEAT_KEY, record_heartbeat


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
        from portfolio.alerting import rules_create_defaults

        rules_create_defaults(instance.pk)
