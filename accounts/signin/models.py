"""Emailed one-time links that get an owner past the account-wide sign-in ceiling."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SignInLink(models.Model):
    """A link sent to the account's email address. Stored as the SHA-256 of its token; used
    once; it lets that browser past the account-wide ceiling, never past the password."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_in_links"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Sign-in link for user {self.user_id}"

    def __repr__(self) -> str:
        return f"<SignInLink user={self.user_id} used={self.used_at is not None}>"
