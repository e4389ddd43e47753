"""Write-side operations on users and linked StandX accounts."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from accounts import crypto
from accounts.models import (
    AccountMode,
    AccountStatus,
    Chain,
    LinkChallenge,
    StandXAccount,
    User,
)
from portfolio.models import AuditEntry, AuditStatus  # portfolio's models import only ours
from standx import auth as standx_auth
from standx import errors as standx_errors
from standx import keys as standx_keys
from standx.rest import Credentials, Endpoints, StandXClient

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 - the published demo login, created only in demo mode
DEMO_LABEL = "Demo (simulated)"
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
) -> StandXAccount:
    """Link the simulator's demo wallet to the demo login in place of its earlier simulator
    links (``make run`` on another ``SIM_PORT`` is another origin: without this the overview
    would count the demo's money once per port ever used). Demo mode only."""
    if not settings.DEMO_MODE or owner.username != DEMO_USERNAME:
        raise ImproperlyConfigured("Only demo mode links the demo wallet, to the demo login.")
    account = account_link_with_token(
        owner=owner, label=DEMO_LABEL, token=token, signing_key=signing_key, endpoints=endpoints
    )
    earlier = StandXAccount.objects.filter(owner=owner).exclude(pk=account.pk)
    for old in earlier:
        if old.label == DEMO_LABEL or _same_wallet(old.address, account.address):
            account_unlink(account=old)
    return account


@dataclass(frozen=True)
class TokenCheck:
    """What we learned about pasted credentials before saving them."""

    address: str | None
    public_key: str | None
    expires_at_iso: str | None
    read_only: bool


def _plain(exc: standx_errors.StandXError) -> str:
    """An exchange error in plain words for the linking pages."""
    if isinstance(exc, standx_errors.TokenExpiredError):
        return "StandX says this token has expired. Create a new one on StandX's session page."
    if isinstance(exc, standx_errors.AuthenticationError):
        return "StandX did not accept this token. Check that you copied all of it."
    if isinstance(exc, standx_errors.InvalidSignatureError):
        return (
            "The signing key does not belong to this token: StandX rejected its signature. "
            "Paste the key shown next to the token on StandX's session page."
        )
    if isinstance(exc, standx_errors.SignatureExpiredError):
        return "StandX rejected the request time; check this server's clock."
    if isinstance(exc, standx_errors.RateLimitedError):
        return "StandX is rate-limiting us right now; try again in a minute."
    if isinstance(exc, standx_errors.UnavailableError | standx_errors.ServerError):
        return "StandX could not be reached just now; try again shortly."
    return f"StandX refused: {exc.message}"


def verify_credentials(
    creds: Credentials, endpoints: Endpoints, *, owner: User | None = None, label: str = ""
) -> AuditEntry | None:
    """Prove the pair works: a balance query checks the token; a signed no-op checks the key.

    The signed check cancels an order id that cannot exist: StandX verifies the signature before
    it looks the order up, so "not found" proves the key and changes nothing. Like every signed
    request, it goes to the ``owner``'s Activity: written before it is sent, then its outcome
    (the entry is returned so the new account can be attached once it is saved).
    """
    with StandXClient(creds, endpoints=endpoints, max_retries=1) as client:
        client.query_balance()
        if not creds.can_sign:
            return None
        cl_ord_id = f"standx-portfolio-key-check-{uuid.uuid4().hex}"
        entry = (
            AuditEntry.objects.create(
                user=owner,
                account_label=label,
                action="link_key_check",
                endpoint="/api/cancel_order",
                body={"cl_ord_id": cl_ord_id},
                status=AuditStatus.SENDING,
                created_at=timezone.now(),
            )
            if owner is not None
            else None
        )
        try:
            client.cancel_order(cl_ord_id=cl_ord_id)
        except (standx_errors.NotFoundError, standx_errors.BadRequestError):
            pass  # the expected answer: signature accepted, no such order
        except standx_errors.StandXError as exc:
            _audit_finish(entry, AuditStatus.REJECTED, f"Key check failed: {_plain(exc)}")
            raise
        _audit_finish(
            entry, AuditStatus.DONE, "Signature accepted; the made-up order id changed nothing."
        )
        return entry


def _audit_finish(entry: AuditEntry | None, status: str, result: str) -> None:
    if entry is not None:
        entry.status, entry.result, entry.finished_at = status, result[:300], timezone.now()
        entry.save(update_fields=["status", "result", "finished_at"])


def _store_credentials(account: StandXAccount, creds: Credentials) -> None:
    account.token_encrypted = crypto.encrypt(
        creds.token, context=account.credential_context("token")
    )
    key = creds.signing_key
    account.signing_key_encrypted = (
        crypto.encrypt(
            standx_keys.seed_base58(key), context=account.credential_context("signing_key")
        )
        if key is not None
        else ""
    )
    account.public_key = creds.public_key or ""
    account.token_expires_at = creds.expires_at
    account.mode = AccountMode.TRADING if key is not None else AccountMode.READ_ONLY
    account.status = AccountStatus.VERIFIED
    account.last_error = ""
    account.verified_at = timezone.now()


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


def refuse_second_link(*, owner: User, chain: str, address: str, perps_url: str) -> None:
    """Raise :class:`LinkError` if ``owner`` has this wallet linked on this exchange already
    under another spelling (another letter case, chain or form of the URL): a second row would
    count the same money twice. Linking the very same row again only renews its credentials."""
    origin = origin_of(perps_url)
    for account in StandXAccount.objects.filter(owner=owner):
        same_row = (account.chain, account.address, account.perps_url) == (
            chain,
            address,
            perps_url,
        )
        if same_row or origin_of(account.perps_url) != origin:
            continue
        if _same_wallet(account.address, address):
            raise LinkError(
                f"You have linked this wallet ({account.short_address}) on {origin} already, as "
                f"“{account.label}”. Linking it twice would count its money twice: unlink "
                f"“{account.label}” first to link it again."
            )


@transaction.atomic
def _save_link(
    *, owner: User, label: str, chain: str, address: str, endpoints: Endpoints, creds: Credentials
) -> StandXAccount:
    # One link at a time per user, so two spellings of one wallet cannot both pass the check.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    refuse_second_link(owner=owner, chain=chain, address=address, perps_url=endpoints.perps_url)
    account, _ = StandXAccount.objects.select_for_update().get_or_create(
        owner=owner,
        chain=chain,
        address=address,
        perps_url=endpoints.perps_url,
        defaults={
            "label": label,
            "auth_url": endpoints.auth_url,
            "ws_url": endpoints.ws_url,
            "ws_api_url": endpoints.ws_api_url,
            "mode": AccountMode.READ_ONLY,
        },
    )
    account.label = label or account.label
    account.auth_url, account.ws_url, account.ws_api_url = (
        endpoints.auth_url, endpoints.ws_url, endpoints.ws_api_url,
    )  # fmt: skip
    _store_credentials(account, creds)  # needs the row id, which get_or_create gave us
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
) -> StandXAccount:
    """Link from a pasted API token (+ optional signing key), verified against StandX first."""
    try:
        creds = Credentials.from_strings(token, signing_key)
    except standx_errors.KeyFormatError as exc:
        raise LinkError(str(exc)) from None
    if creds.expires_at is not None and creds.expires_at <= timezone.now():
        raise LinkError("This token has already expired. Create a new one on StandX.")
    address, token_chain = _identity(creds)
    label = label.strip() or f"StandX {address[:8]}"
    # Before anything is signed: a refused link leaves no key check in Activity.
    refuse_second_link(
        owner=owner, chain=chain or token_chain, address=address, perps_url=endpoints.perps_url
    )
    try:
        check = verify_credentials(creds, endpoints, owner=owner, label=label)
    except standx_errors.StandXError as exc:
        raise LinkError(_plain(exc)) from None
    account = _save_link(
        owner=owner,
        label=label,
        chain=chain or token_chain,
        address=address,
        endpoints=endpoints,
        creds=creds,
    )
    if check is not None:
        AuditEntry.objects.filter(pk=check.pk).update(account=account)
    return account


def _identity(creds: Credentials) -> tuple[str, str]:
    """The wallet address and chain named by the token (``bsc_0x…`` style or a plain address)."""
    claims = standx_keys.jwt_claims(creds.token)
    raw = str(claims.get("address") or claims.get("sub") or claims.get("user") or "")
    chain = str(claims.get("chain") or "")
    if "_" in raw and raw.split("_", 1)[0] in Chain.values:
        chain, raw = raw.split("_", 1)
    if not chain:
        chain = Chain.BSC if raw.startswith("0x") else Chain.SOLANA
    if not raw:
        # A token that names no wallet: key the link by its public key so it stays unique.
        raw = creds.public_key or "unknown"
    return raw, chain


@transaction.atomic
def account_link_begin_wallet(
    *, owner: User, chain: str, address: str, endpoints: Endpoints
) -> tuple[LinkChallenge, str]:
    """Ask StandX for a challenge; keep the temporary key encrypted; return the text to sign."""
    try:
        with standx_auth.AuthClient(endpoints) as client:
            pending = standx_auth.begin_login(client, chain=chain, address=address)
    except standx_errors.StandXError as exc:
        raise LinkError(
            exc.message if isinstance(exc, standx_errors.LoginError) else _plain(exc)
        ) from None
    # Before the wallet is asked to sign, with the address as the exchange spells it.
    refuse_second_link(
        owner=owner, chain=pending.chain, address=pending.address, perps_url=endpoints.perps_url
    )
    LinkChallenge.objects.filter(owner=owner, expires_at__lt=timezone.now()).delete()
    challenge = LinkChallenge.objects.create(
        owner=owner,
        chain=chain,
        address=pending.address,
        perps_url=endpoints.perps_url,
        auth_url=endpoints.auth_url,
        state_encrypted="",
        expires_at=timezone.now() + CHALLENGE_LIFETIME,
    )

    challenge.state_encrypted = crypto.encrypt(
        json.dumps(pending.to_state()), context=challenge.credential_context()
    )
    challenge.save(update_fields=["state_encrypted"])
    return challenge, pending.message


def account_link_complete_wallet(
    *, owner: User, challenge_id: int, signature: str, label: str, endpoints: Endpoints
) -> StandXAccount:
    """Finish a wallet sign-in with the browser wallet's signature and store the result."""

    with transaction.atomic():
        challenge = (
            LinkChallenge.objects.select_for_update().filter(pk=challenge_id, owner=owner).first()
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
    pending = standx_auth.PendingLogin.from_state(state)
    try:
        with standx_auth.AuthClient(endpoints) as client:
            session = standx_auth.complete_login(client, pending, signature)
    except standx_errors.StandXError as exc:
        raise LinkError(
            exc.message if isinstance(exc, standx_errors.LoginError) else _plain(exc)
        ) from None
    return _save_link(
        owner=owner,
        label=label.strip() or f"{pending.chain.upper()} {pending.address[:8]}",
        chain=pending.chain,
        address=pending.address,
        endpoints=endpoints,
        creds=session.credentials,
    )


@transaction.atomic
def account_unlink(*, account: StandXAccount) -> None:
    """Delete the account and its credentials at once."""
    account.delete()


@transaction.atomic
def account_delete_credentials(*, account: StandXAccount) -> None:
    """Keep the row (and its history) but forget the token and key; polling stops."""
    StandXAccount.objects.filter(pk=account.pk).update(
        token_encrypted="",
        signing_key_encrypted="",
        sync_enabled=False,
        status=AccountStatus.NEEDS_RELINK,
        last_error="Credentials deleted; link the account again to resume.",
        mode=AccountMode.READ_ONLY,
    )


def account_mark_needs_relink(*, account_id: int, reason: str) -> None:
    """StandX answered 401: the token is dead. Stop polling until the user re-links."""
    StandXAccount.objects.filter(pk=account_id).update(
        status=AccountStatus.NEEDS_RELINK,
        last_error=reason[:300],
        sync_enabled=False,
    )


def account_set_sync(*, account: StandXAccount, enabled: bool) -> None:
    StandXAccount.objects.filter(pk=account.pk).update(sync_enabled=enabled)


def rotate_credential_keys() -> dict[str, int]:
    """Re-encrypt every stored credential under the newest key. Returns counts."""
    keys = crypto.configured_keys()
    newest = keys[0].id
    counts = {"accounts": 0, "rotated": 0, "already_current": 0, "challenges_dropped": 0}
    for account_id in StandXAccount.objects.values_list("pk", flat=True):
        with transaction.atomic():
            account = StandXAccount.objects.select_for_update().get(pk=account_id)
            counts["accounts"] += 1
            changed = False
            for field in ("token", "signing_key"):
                stored = getattr(account, f"{field}_encrypted")
                if not stored:
                    continue
                if crypto.key_id_of(stored) == newest:
                    continue
                context = account.credential_context(field)
                plain = crypto.decrypt(stored, context=context, keys=keys)
                setattr(
                    account, f"{field}_encrypted", crypto.encrypt(plain, context=context, keys=keys)
                )
                changed = True
            if changed:
                account.save(update_fields=["token_encrypted", "signing_key_encrypted"])
                counts["rotated"] += 1
            else:
                counts["already_current"] += 1
    # Pending sign-ins live three minutes; dropping them is simpler than re-encrypting them.
    counts["challenges_dropped"], _ = LinkChallenge.objects.all().delete()
    return counts
