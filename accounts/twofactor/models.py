"""Second factors: an authenticator app (TOTP), recovery codes, passkeys (WebAuthn)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TotpDevice(models.Model):
    """The user's authenticator app. Unconfirmed until a first code proves the enrolment.

    The shared secret is stored only encrypted (``accounts.crypto``), bound to the user's id.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret_encrypted = models.TextField(editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last 30-second step a code was accepted for: a code is never accepted twice.
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "pending"
        return f"Authenticator app of user {self.user_id} ({state})"

    def __repr__(self) -> str:
        return f"<TotpDevice user={self.user_id} confirmed={self.confirmed_at is not None}>"

    def secret_context(self) -> str:
        return f"totp:{self.user_id}:secret"


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as its SHA-256 (the code itself is shown once)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64, editable=False)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="unique_recovery_code")
        ]

    def __str__(self) -> str:
        return f"Recovery code of user {self.user_id} ({'used' if self.used_at else 'unused'})"

    def __repr__(self) -> str:
        return f"<RecoveryCode user={self.user_id} used={self.used_at is not None}>"


class Passkey(models.Model):
    """A WebAuthn credential: a second factor, and a sign-in without a password.

    Only public material is kept (the credential id and its public key).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys"
    )
    name = models.CharField(max_length=60)
    credential_id = models.BinaryField(unique=True, editable=False)
    public_key = models.BinaryField(editable=False)
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Passkey “{self.name}” of user {self.user_id}"
