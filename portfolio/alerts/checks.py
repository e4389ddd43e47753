"""Deployment checks (``manage.py check --deploy``) for what settings alone cannot refuse."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def web_push_configured(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    if settings.WEB_PUSH_ENABLED and settings.VAPID is None:
        found.append(
            Error(
                "Web Push is on (WEB_PUSH_ENABLED) but VAPID_PRIVATE_KEY is not set: alerts "
                "cannot reach a closed tab or a phone.",
                hint="Set VAPID_PRIVATE_KEY and VAPID_SUBJECT (`python manage.py vapid_keys` "
                "prints a pair; keep it), or set WEB_PUSH_ENABLED=false.",
                id="portfolio.E001",
            )
        )
    if settings.WEB_PUSH_ENABLED and settings.WEB_PUSH_ALLOW_ANY_ENDPOINT:
        found.append(
            Warning(
                "WEB_PUSH_ALLOW_ANY_ENDPOINT is on: any user can make the workers POST to any "
                "URL, internal ones included.",
                hint="Leave it off in production; WEB_PUSH_SERVICE_HOSTS lists the push services.",
                id="portfolio.W002",
            )
        )
    return found
