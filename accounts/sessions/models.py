"""Signed-in sessions as the user sees them, and the devices they have signed in from."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UserSession(models.Model):
    """One signed-in browser session. ``key_hash`` is the hashed key the session table holds
    (``accounts.sessions.store``), so ending this row's session is one delete."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signed_in_sessions"
    )
    key_hash = models.CharField(max_length=40, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]

    def __str__(self) -> str:
        return f"Session of user {self.user_id} from {self.ip or 'unknown address'}"

    def __repr__(self) -> str:
        return f"<UserSession user={self.user_id} ip={self.ip!r}>"


class KnownDevice(models.Model):
    """A browser that has signed in to this account (by the hash of its device cookie): a
    sign-in from any other browser is announced by email."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="known_devices"
    )
    device_hash = models.CharField(max_length=64, editable=False)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "device_hash"], name="unique_known_device")
        ]

    def __str__(self) -> str:
        return f"Device of user {self.user_id} first seen {self.first_seen_at:%Y-%m-%d}"
