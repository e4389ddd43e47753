from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A dashboard login. Linked StandX accounts hang off it."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class Chain(models.TextChoices):
    BSC = "bsc", "BNB Chain (EVM)"
    SOLANA = "solana", "Solana"


class AccountMode(models.TextChoices):
    READ_ONLY = "read_only", "Read-only"
    TRADING = "trading", "Trading"


class AccountStatus(models.TextChoices):
    VERIFIED = "verified", "Verified"
    NEEDS_RELINK = "needs_relink", "Needs re-link"
    ERROR = "error", "Error"


class StandXAccount(models.Model):
    """A StandX account linked to a dashboard user.

    The token and signing key are stored only encrypted (``accounts.crypto``), bound to this
    row's id; ``public_key`` and ``token_expires_at`` are derived at link time for display.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="standx_accounts"
    )
    label = models.CharField(max_length=80)
    # The venue adapter's key (venues.registry); every StandX account says "standx".
    venue = models.CharField(max_length=20, default="standx", editable=False)
    chain = models.CharField(max_length=10, choices=Chain.choices)
    address = models.CharField(max_length=100)
    perps_url = models.URLField()
    auth_url = models.URLField()
    ws_url = models.CharField(max_length=200)
    ws_api_url = models.CharField(max_length=200)
    mode = models.CharField(max_length=10, choices=AccountMode.choices)
    public_key = models.CharField(max_length=60, blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=AccountStatus.choices, default=AccountStatus.VERIFIED
    )
    last_error = models.CharField(max_length=300, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    sync_enabled = models.BooleanField(default=True)
    # "v1.<key id>.<ciphertext>"; empty token means the credentials were deleted.
    token_encrypted = models.TextField(blank=True, editable=False)
    signing_key_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["owner_id", "label", "id"]
        constraints = [
            # One link per wallet per exchange for a user; re-linking replaces credentials.
            models.UniqueConstraint(
                fields=["owner", "chain", "address", "perps_url"], name="unique_link_per_owner"
            ),
        ]
        indexes = [models.Index(fields=["sync_enabled", "status"], name="account_syncable")]

    def __str__(self) -> str:
        return f"{self.label} ({self.short_address})"

    @property
    def short_address(self) -> str:
        a = self.address
        return a if len(a) <= 14 else f"{a[:6]}…{a[-4:]}"

    @property
    def has_credentials(self) -> bool:
        return bool(self.token_encrypted)

    @property
    def can_trade(self) -> bool:
        return (
            self.mode == AccountMode.TRADING
            and bool(self.signing_key_encrypted)
            and self.status == AccountStatus.VERIFIED
        )

    @property
    def days_left(self) -> int | None:
        if self.token_expires_at is None:
            return None
        return max(0, (self.token_expires_at - timezone.now()).days)

    @property
    def expires_soon(self) -> bool:
        if self.token_expires_at is None:
            return False
        return self.token_expires_at - timezone.now() < timedelta(days=3)

    @property
    def is_expired(self) -> bool:
        return self.token_expires_at is not None and self.token_expires_at <= timezone.now()

    def credential_context(self, field: str) -> str:
        """Associated data binding a ciphertext to this row and field."""
        return f"standx-account:{self.pk}:{field}"


class LinkChallenge(models.Model):
    """A wallet sign-in between "prepare" and "complete": the temporary key, encrypted."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="link_challenges"
    )
    chain = models.CharField(max_length=10, choices=Chain.choices)
    address = models.CharField(max_length=100)
    perps_url = models.URLField()
    auth_url = models.URLField()
    state_encrypted = models.TextField(editable=False)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.chain} sign-in for {self.address}"

    def credential_context(self) -> str:
        return f"link-challenge:{self.pk}:{self.owner_id}"


# Security (two-factor sign-in, signed-in sessions, emailed sign-in links) keeps its models in
# its own modules; importing them here registers them with this app.
from accounts.sessions.models import KnownDevice, UserSession  # noqa: E402, F401
from accounts.signin.models import SignInLink  # noqa: E402, F401
from accounts.twofactor.models import Passkey, RecoveryCode, TotpDevice  # noqa: E402, F401
