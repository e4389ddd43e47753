"""Write-side operations on users."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.models import User

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 - the published demo login, created only in demo mode


@transaction.atomic
def user_ensure_demo() -> User:
    """Create (or reset) the ``demo``/``demo`` login. Refuses unless demo mode is on."""
    if not settings.DEMO_MODE:
        raise ImproperlyConfigured(
            "The demo login exists only in demo mode (STANDX_DEMO=1, as `make run` sets it)."
        )
    user, _ = User.objects.get_or_create(username=DEMO_USERNAME)
    user.set_password(DEMO_PASSWORD)
    user.is_active = True
    user.save()
    return user
