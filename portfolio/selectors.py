"""Read-side queries for the dashboard."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from standx_web.health import health_report


def live_state_for_user(user: Any) -> dict[str, Any]:
    """What a freshly (re)connected browser needs: who it is and how the system is."""
    health = health_report()
    return {
        "username": user.get_username(),
        "server_time": timezone.now().isoformat(),
        "system": {name: health[name] for name in ("database", "redis", "worker", "pricestream")},
    }
