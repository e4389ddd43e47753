from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portfolio.alerts.push import public_key
from portfolio.dashboard.selectors import firing_count


def alerts(request: HttpRequest) -> dict[str, Any]:
    """The firing-alert count for the header badge and tab title, before the socket connects;
    the key browsers subscribe to push with."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"firing_alerts": firing_count(user.pk), "push_public_key": public_key()}
