from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A dashboard login. Linked exchange accounts hang off it."""

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


class ExchangeAccount(models.Model):
    """An exchange account (on any venue in ``venues.registry``) linked to a dashboard user.

    Its secrets live only encrypted in :class:`Credential` rows (``accounts.credentials``);
    ``identity`` (a wallet address, a user id) and ``endpoints`` (the venue's named URLs) say
    which account on which exchange this is. ``credential_expires_at`` is the earliest expiry
    of its credentials, for the expiry alert and the accounts page.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exchange_accounts"
    )
    label = models.CharField(max_length=80)
    # The venue adapter's key (venues.registry).
    venue = models.CharField(max_length=20, default="standx", editable=False)
    # StandX's wallet chain; blank on venues whose identity is not a wallet.
    chain = models.CharField(max_length=10, choices=Chain.choices, blank=True)
    identity = models.CharField(max_length=100)
    # The venue's named URLs (``venues.base.Endpoints.urls``); ``origin`` is the API's, for the
    # one-link-per-identity constraint.
    endpoints = models.JSONField(default=dict)
    origin = models.CharField(max_length=200)
    mode = models.CharField(max_length=10, choices=AccountMode.choices)
    credential_expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=AccountStatus.choices, default=AccountStatus.VERIFIED
    )
    last_error = models.CharField(max_length=300, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    sync_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The account's credential rows when they were loaded with it (the sync's claim), else None.
    prefetched_credentials: list[Credential] | None = None

    class Meta:
        ordering = ["owner_id", "label", "id"]
        constraints = [
            # One link per identity per exchange for a user; re-linking replaces credentials.
            models.UniqueConstraint(
                fields=["owner", "venue", "identity", "origin"], name="unique_link_per_owner"
            ),
        ]
        indexes = [models.Index(fields=["sync_enabled", "status"], name="account_syncable")]

    def __str__(self) -> str:
        return f"{self.label} ({self.short_address})"

    @property
    def address(self) -> str:
        return self.identity

    @property
    def short_address(self) -> str:
        a = self.identity
        return a if len(a) <= 14 else f"{a[:6]}…{a[-4:]}"

    @property
    def has_credentials(self) -> bool:
        """Whether any credential is stored (annotated by ``with_credential_flags`` in lists,
        or loaded with the account by the sync's claim)."""
        prefetched = getattr(self, "prefetched_credentials", None)
        if prefetched is not None:
            return bool(prefetched)
        flag = getattr(self, "credentials_stored", None)
        if flag is None:
            return self.pk is not None and Credential.objects.filter(account_id=self.pk).exists()
        return bool(flag)

    @property
    def can_trade(self) -> bool:
        # The mode is written in the same transaction as the credentials: "trading" means a
        # credential with the trade scope is stored.
        return self.mode == AccountMode.TRADING and self.status == AccountStatus.VERIFIED

    @property
    def days_left(self) -> int | None:
        if self.credential_expires_at is None:
            return None
        return max(0, (self.credential_expires_at - timezone.now()).days)

    @property
    def expires_soon(self) -> bool:
        if self.credential_expires_at is None:
            return False
        return self.credential_expires_at - timezone.now() < timedelta(days=3)

    @property
    def is_expired(self) -> bool:
        return (
            self.credential_expires_at is not None and self.credential_expires_at <= timezone.now()
        )

    @property
    def signing_public_key(self) -> str:
        """The public half of the request-signing key, to compare with the venue's page."""
        row = Credential.objects.filter(account_id=self.pk, kind=CredentialKind.STANDX_SIGNING_KEY)
        return row.values_list("public_id", flat=True).first() or ""


class CredentialKind(models.TextChoices):
    STANDX_TOKEN = "standx_token", "StandX API token"
    STANDX_SIGNING_KEY = "standx_signing_key", "StandX request-signing key"
    PERPEX_BEARER = "perpex_bearer", "PerpEx API key"
    OCX_SESSION = "ocx_session", "OCX session"
    OCX_API_KEY_READ = "ocx_api_key_read", "OCX read key"
    OCX_API_KEY_TRADE = "ocx_api_key_trade", "OCX trade key"


class Credential(models.Model):
    """One secret of a linked account, encrypted (``accounts.crypto``) and never shown.

    ``aad`` is the associated data the ciphertext was sealed with (StandX rows keep the string
    they had before this table existed); decryption refuses a row whose ``aad`` does not name
    its own account and kind, so a ciphertext copied to another row stays useless.
    """

    account = models.ForeignKey(
        ExchangeAccount, on_delete=models.CASCADE, related_name="credentials"
    )
    kind = models.CharField(max_length=30, choices=CredentialKind.choices)
    secret_encrypted = models.TextField(editable=False)
    aad = models.CharField(max_length=200, editable=False)
    # Safe to show: a key id, a signing key's public half.
    public_id = models.CharField(max_length=100, blank=True)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "kind"], name="credential_once_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of account {self.account_id}"

    def __repr__(self) -> str:
        return f"<Credential {self.kind} account={self.account_id} public_id={self.public_id!r}>"


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
