"""Write-side operations on users and linked exchange accounts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from accounts import credentials, crypto
from accounts.models import (
    AccountMode,
    AccountStatus,
    ExchangeAccount,
    LinkChallenge,
    User,
)
from accounts.twofactor.services import totp_secrets_rotate, trading_refusal
from portfolio.models import AuditEntry, AuditStatus  # portfolio's models import only ours
from venues import errors as venue_errors
from venues import registry
from venues.account import Linked, PastedLink, WalletChallenge, WalletLink
from venues.base import Endpoints

STANDX = "standx"  # the venue whose wallet and token flows these pages offer today

DEMO_LABEL = "Demo (simulated)"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 - the published demo login, created only in demo mode
CHALLENGE_LIFETIME = timedelta(minutes=3)


class LinkError(Exception):
    """Linking failed; the message is safe to show to the user (it never holds a secret)."""


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


def account_link_demo(
    *, owner: User, token: str, signing_key: str, endpoints: Endpoints
) -> ExchangeAccount:
    """Link the simulator's demo wallet to the demo login in place of its earlier simulator
    links (``make run`` on another ``SIM_PORT`` is another origin: without this the overview
    would count the demo's money once per port ever used). Demo mode only."""
    if not settings.DEMO_MODE or owner.username != DEMO_USERNAME:
        raise ImproperlyConfigured("Only demo mode links the demo wallet, to the demo login.")
    account = account_link_with_token(
        owner=owner, label=DEMO_LABEL, token=token, signing_key=signing_key, endpoints=endpoints
    )
    earlier = ExchangeAccount.objects.filter(owner=owner, venue=account.venue).exclude(
        pk=account.pk
    )
    for old in earlier:
        if old.label == DEMO_LABEL or _same_wallet(old.identity, account.identity):
            account_unlink(account=old)
    return account


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as a browser compares origins (case and a default
    port do not make another place)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == {"http": 80, "https": 443}.get(scheme):
        port = None
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def _same_wallet(a: str, b: str) -> bool:
    # An EVM address is the same in any letter case (checksummed or not); Solana's base58 is not.
    if a.lower().startswith("0x") and b.lower().startswith("0x"):
        return a.lower() == b.lower()
    return a == b


def refuse_second_link(*, owner: User, venue: str, identity: str, endpoints: Endpoints) -> None:
    """Raise :class:`LinkError` if ``owner`` has this identity linked on this exchange already
    under another spelling (another letter case or form of the URL): a second row would count
    the same money twice. Linking the very same row again only renews its credentials."""
    origin = origin_of(endpoints.origin)
    for account in ExchangeAccount.objects.filter(owner=owner, venue=venue):
        same_row = (account.identity, account.origin) == (identity, endpoints.origin)
        if same_row or origin_of(account.origin) != origin:
            continue
        if _same_wallet(account.identity, identity):
            raise LinkError(
                f"You have linked this wallet ({account.short_address}) on {origin} already, as "
                f"“{account.label}”. Linking it twice would count its money twice: unlink "
                f"“{account.label}” first to link it again."
            )


class ActivityCheck:
    """Logs a link's signed check in the owner's Activity: the entry is written before the
    request leaves, then its outcome (attached to the account once the link is saved)."""

    def __init__(self, owner: User | None, label: str) -> None:
        self.owner, self.label = owner, label
        self.entry: AuditEntry | None = None

    def sending(self, path: str, body: Mapping[str, Any]) -> None:
        if self.owner is not None:
            self.entry = AuditEntry.objects.create(
                user=self.owner,
                account_label=self.label,
                action="link_key_check",
                endpoint=path,
                body=dict(body),
                status=AuditStatus.SENDING,
                created_at=timezone.now(),
            )

    def answered(self, ok: bool, words: str) -> None:
        if self.entry is not None:
            entry = self.entry
            entry.status = AuditStatus.DONE if ok else AuditStatus.REJECTED
            entry.result, entry.finished_at = words[:300], timezone.now()
            entry.save(update_fields=["status", "result", "finished_at"])

    def failed(self, words: str, *, transient: bool) -> None:
        """The venue refused while the check was out (an entry still "sending" is settled)."""
        if self.entry is not None and self.entry.status == AuditStatus.SENDING:
            self.answered(False, words)
            if transient:
                AuditEntry.objects.filter(pk=self.entry.pk).update(status=AuditStatus.FAILED)


def _words(exc: venue_errors.VenueError) -> str:
    """A refusal while linking: the adapter's own sentence, else the venue layer's."""
    return exc.message or venue_errors.plain_words(exc)


@transaction.atomic
def linked_store(
    *, owner: User, venue: str, endpoints: Endpoints, linked: Linked, label: str
) -> ExchangeAccount:
    """Save a verified link: the account row and its credentials, in one transaction. Linking
    the same identity on the same exchange again replaces the credentials."""
    refuse_second_link(owner=owner, venue=venue, identity=linked.identity, endpoints=endpoints)
    account, _ = ExchangeAccount.objects.select_for_update().get_or_create(
        owner=owner,
        venue=venue,
        identity=linked.identity,
        origin=endpoints.origin,
        defaults={"label": label, "chain": linked.chain, "mode": AccountMode.READ_ONLY},
    )
    account.label = label or account.label or linked.label_hint[:80]
    account.chain = linked.chain
    account.sync_enabled = True  # a re-link resumes the polling a dead credential stopped
    account.endpoints = dict(endpoints.urls)
    for kind, secret in linked.secrets.items():  # needs the row id, which get_or_create gave
        credentials.credential_seal(
            account,
            kind,
            secret,
            scopes=linked.scopes.get(kind, ()),
            public_id=linked.public_ids.get(kind, ""),
            expires_at=linked.expiries.get(kind, linked.expires_at),
            meta={"minted": True} if kind in linked.minted else None,
        )
    credentials.credentials_keep_only(account, linked.secrets)
    account.credential_expires_at = linked.expires_at
    account.mode = AccountMode.TRADING if linked.can_trade else AccountMode.READ_ONLY
    account.status = AccountStatus.VERIFIED
    account.last_error = ""
    account.verified_at = timezone.now()
    account.save()
    return account


def account_link_with_token(
    *,
    owner: User,
    label: str,
    token: str,
    signing_key: str | None,
    endpoints: Endpoints,
    chain: str | None = None,
) -> ExchangeAccount:
    """Link from a pasted API token (+ optional signing key), verified against StandX first."""
    _refuse_trading_without_second_factor(owner, trading=bool(signing_key))
    fields = {"token": token, "signing_key": signing_key or ""}
    venue = _pasted(STANDX)
    # Before anything is signed: a refused link leaves no key check in Activity.
    if identity := venue.link_identity(fields):
        refuse_second_link(owner=owner, venue=STANDX, identity=identity, endpoints=endpoints)
    check = ActivityCheck(owner, label.strip())
    try:
        linked = venue.link_pasted(endpoints, fields, check)
    except venue_errors.VenueError as exc:
        raise LinkError(_words(exc)) from None
    label = label.strip() or linked.label_hint
    if chain:
        linked = replace(linked, chain=chain)
    account = linked_store(
        owner=owner, venue=STANDX, endpoints=endpoints, linked=linked, label=label
    )
    if check.entry is not None:
        AuditEntry.objects.filter(pk=check.entry.pk).update(account=account, account_label=label)
    return account


def _pasted(key: str) -> PastedLink:
    venue = registry.adapter(key)
    if not isinstance(venue, PastedLink):
        raise LinkError(f"{venue.name} accounts are not linked by pasting credentials.")
    return venue


def _refuse_trading_without_second_factor(owner: User, *, trading: bool) -> None:
    refusal = trading_refusal(owner) if trading else None
    if refusal is not None:
        raise LinkError(refusal)


def _wallet(key: str) -> WalletLink:
    venue = registry.adapter(key)
    if not isinstance(venue, WalletLink):
        raise LinkError(f"{venue.name} accounts are not linked with a wallet.")
    return venue


def account_link_begin_wallet(
    *, owner: User, chain: str, address: str, endpoints: Endpoints
) -> tuple[LinkChallenge, str]:
    """Ask StandX for a challenge; keep the temporary key encrypted; return the text to sign."""
    # A wallet sign-in always yields a signing key: the link is in trading mode.
    _refuse_trading_without_second_factor(owner, trading=True)
    try:
        pending = _wallet(STANDX).link_begin_wallet(endpoints, chain, address)
    except venue_errors.VenueError as exc:
        raise LinkError(_words(exc)) from None
    # Before the wallet is asked to sign, with the address as the exchange spells it.
    refuse_second_link(owner=owner, venue=STANDX, identity=pending.address, endpoints=endpoints)
    with transaction.atomic():  # after the venue answered: no transaction across the call
        return _challenge_store(owner, chain, pending, endpoints)


def _challenge_store(
    owner: User, chain: str, pending: WalletChallenge, endpoints: Endpoints
) -> tuple[LinkChallenge, str]:
    LinkChallenge.objects.filter(owner=owner, expires_at__lt=timezone.now()).delete()
    challenge = LinkChallenge.objects.create(
        owner=owner,
        chain=chain,
        address=pending.address,
        perps_url=endpoints["perps"],
        auth_url=endpoints["auth"],
        state_encrypted="",
        expires_at=timezone.now() + CHALLENGE_LIFETIME,
    )
    challenge.state_encrypted = crypto.encrypt(
        json.dumps(dict(pending.state)), context=challenge.credential_context()
    )
    challenge.save(update_fields=["state_encrypted"])
    return challenge, pending.message


def account_link_complete_wallet(
    *, owner: User, challenge_id: int, signature: str, label: str, endpoints: Endpoints
) -> ExchangeAccount:
    """Finish a wallet sign-in with the browser wallet's signature and store the result."""

    with transaction.atomic():
        challenge = (
            LinkChallenge.objects.select_for_update()
            .filter(pk=challenge_id, owner=owner)
            .exclude(chain="")  # a key-minting sign-in's (accounts.minting)
            .first()
        )
        if challenge is None:
            raise LinkError("This sign-in request is unknown or was already used; start again.")
        state = json.loads(
            crypto.decrypt(challenge.state_encrypted, context=challenge.credential_context())
        )
        expired = challenge.expires_at < timezone.now()
        # Single use, whatever happens next.
        challenge.delete()
    if expired:
        raise LinkError("The sign-in request expired (3 minutes); start again.")
    try:
        linked = _wallet(STANDX).link_complete_wallet(endpoints, state, signature)
    except venue_errors.VenueError as exc:
        raise LinkError(_words(exc)) from None
    label = label.strip() or f"{linked.chain.upper()} {linked.identity[:8]}"
    return linked_store(owner=owner, venue=STANDX, endpoints=endpoints, linked=linked, label=label)


@transaction.atomic
def account_unlink(*, account: ExchangeAccount) -> None:
    """Delete the account and its credentials at once."""
    account.delete()


@transaction.atomic
def account_delete_credentials(*, account: ExchangeAccount) -> None:
    """Keep the row (and its history) but forget the token and key; polling stops."""
    credentials.credentials_forget(account.pk)
    ExchangeAccount.objects.filter(pk=account.pk).update(
        sync_enabled=False,
        status=AccountStatus.NEEDS_RELINK,
        last_error="Credentials deleted; link the account again to resume.",
        mode=AccountMode.READ_ONLY,
    )


def account_mark_needs_relink(*, account_id: int, reason: str) -> None:
    """StandX answered 401: the token is dead. Stop polling until the user re-links."""
    ExchangeAccount.objects.filter(pk=account_id).update(
        status=AccountStatus.NEEDS_RELINK,
        last_error=reason[:300],
        sync_enabled=False,
    )


def account_set_sync(*, account: ExchangeAccount, enabled: bool) -> None:
    ExchangeAccount.objects.filter(pk=account.pk).update(sync_enabled=enabled)


def rotate_credential_keys() -> dict[str, int]:
    """Re-encrypt every stored credential under the newest key, row by row. Returns counts."""
    keys = crypto.configured_keys()
    counts = credentials.credentials_rotate(keys)
    counts["totp_rotated"] = totp_secrets_rotate(keys)
    # Pending sign-ins live three minutes; dropping them is simpler than re-encrypting them.
    counts["challenges_dropped"], _ = LinkChallenge.objects.all().delete()
    return counts
