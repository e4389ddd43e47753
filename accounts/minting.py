"""Linking by a wallet sign-in that mints API keys (a venue whose adapter is a ``KeyMintLink``:
OCX), and unlinking that revokes them.

The trader's browser wallet signs the venue's sign-in message; the wallet key never reaches
us. The session the signature buys is held only while the keys are minted (kept, encrypted,
only by a mode that needs it to trade). Every call that changes something at the venue (minting,
revoking) is written to the owner's Activity and committed before it is sent, and its outcome
recorded after; no transaction is open across a call. Every refusal is a
:class:`accounts.services.LinkError` with a sentence to show.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import credentials, crypto, venue_config
from accounts.linking import refusal_words
from accounts.models import ExchangeAccount, LinkChallenge, User
from accounts.services import CHALLENGE_LIFETIME, LinkError, account_unlink, linked_store
from accounts.twofactor.services import trading_refusal
from portfolio.models import AuditEntry, AuditStatus  # portfolio's models import only ours
from venues import errors, registry
from venues.account import KeyMintLink, Linked, LinkMode, MintSession
from venues.base import Endpoints


def mint_adapter(venue_key: str) -> Any:
    """The adapter of a venue linked by a key-minting wallet sign-in; LookupError otherwise."""
    adapter = registry.adapter(venue_key)
    if not isinstance(adapter, KeyMintLink):
        raise LookupError(f"{adapter.name} accounts are not linked by a wallet sign-in here")
    return adapter


def mint_modes(venue_key: str) -> tuple[LinkMode, ...]:
    """The modes a wallet sign-in offers on this venue (none: the venue has no such sign-in)."""
    try:
        return tuple(mint_adapter(venue_key).mint_modes)
    except LookupError:
        return ()


def _mode(adapter: Any, key: str) -> LinkMode:
    for mode in adapter.mint_modes:
        if mode.key == key:
            return mode
    raise LinkError(
        "Choose how to link the account: "
        + " or ".join(m.label.lower() for m in adapter.mint_modes)
        + "."
    )


def _activity(owner: User, label: str, action: str, path: str, body: dict[str, Any]) -> AuditEntry:
    """The intent, committed before the request leaves."""
    return AuditEntry.objects.create(
        user=owner,
        account_label=label[:80],
        action=action,
        endpoint=path[:60],
        body=body,
        status=AuditStatus.SENDING,
        created_at=timezone.now(),
    )


def _settle(entry: AuditEntry, status: str, words: str) -> None:
    entry.status, entry.result, entry.finished_at = status, words[:300], timezone.now()
    entry.save(update_fields=["status", "result", "finished_at"])


def _failed(entry: AuditEntry, exc: errors.VenueError, words: str) -> None:
    _settle(entry, AuditStatus.FAILED if exc.transient else AuditStatus.REJECTED, words)


def account_mint_begin(
    *, owner: User, venue_key: str, address: str, mode: str, endpoints: Endpoints
) -> tuple[LinkChallenge, str]:
    """Ask the venue for its sign-in message for ``address`` (outside any transaction), keep
    it with the chosen mode, and return the text the wallet signs."""
    try:
        adapter = mint_adapter(venue_key)
    except LookupError as exc:
        raise LinkError(str(exc)) from None
    chosen = _mode(adapter, mode)
    if chosen.can_trade and (refusal := trading_refusal(owner)):
        raise LinkError(refusal)
    try:
        pending = adapter.mint_begin(endpoints, address)
    except errors.VenueError as exc:
        raise LinkError(refusal_words(exc, endpoints.origin)) from None
    state = {"venue": venue_key, "mode": chosen.key, "origin": endpoints.origin}
    state["signed"] = json.dumps(dict(pending.state))
    with transaction.atomic():  # after the venue answered
        LinkChallenge.objects.filter(owner=owner, expires_at__lt=timezone.now()).delete()
        challenge = LinkChallenge.objects.create(
            owner=owner,
            chain="",  # no StandX chain: the StandX sign-in never takes this row
            address=pending.address,
            perps_url=endpoints.origin,
            auth_url=endpoints.origin,
            state_encrypted="",
            expires_at=timezone.now() + CHALLENGE_LIFETIME,
        )
        challenge.state_encrypted = crypto.encrypt(
            json.dumps(state), context=challenge.credential_context()
        )
        challenge.save(update_fields=["state_encrypted"])
    return challenge, pending.message


def _challenge_take(owner: User, challenge_id: int, venue_key: str) -> dict[str, str]:
    """The sign-in's state; the challenge is used up whatever happens next."""
    with transaction.atomic():
        challenge = (
            LinkChallenge.objects.select_for_update()
            .filter(pk=challenge_id, owner=owner, chain="")
            .first()
        )
        if challenge is None:
            raise LinkError("This sign-in request is unknown or was already used; start again.")
        state: dict[str, str] = json.loads(
            crypto.decrypt(challenge.state_encrypted, context=challenge.credential_context())
        )
        expired = challenge.expires_at < timezone.now()
        challenge.delete()
    if expired:
        raise LinkError("The sign-in request expired (3 minutes); start again.")
    if state.get("venue") != venue_key:
        raise LinkError("This sign-in request was for another exchange; start again.")
    return state


def _discard(signed: MintSession) -> str:
    """End a session the link does not keep; words for the Activity log if the venue did not."""
    try:
        signed.discard()
    except errors.VenueError as exc:
        return f" The sign-in session could not be ended at once ({exc.message}); it lapses."
    return " The sign-in session was ended."


def account_mint_complete(
    *,
    owner: User,
    venue_key: str,
    challenge_id: int,
    signature: str,
    label: str,
    endpoints: Endpoints,
) -> ExchangeAccount:
    """Exchange the wallet's signature for a session, mint the mode's key with it, store the
    link (the key encrypted; the session only if the mode keeps it), and end the session
    otherwise. Linking an account again renews it, revoking the keys the earlier link minted;
    a key minted for a link that is then refused is revoked again."""
    adapter = mint_adapter(venue_key)
    state = _challenge_take(owner, challenge_id, venue_key)
    if state.get("origin") != endpoints.origin:
        raise LinkError("This sign-in request was for another exchange URL; start again.")
    mode = _mode(adapter, state["mode"])
    try:
        signed: MintSession = adapter.mint_sign_in(
            endpoints, json.loads(state["signed"]), signature
        )
    except errors.VenueError as exc:
        raise LinkError(refusal_words(exc, endpoints.origin)) from None
    label = "".join(c for c in " ".join(label.split()) if c.isprintable())[:80]
    label = label or signed.label_hint
    # Linking the same account again renews its link (the one re-link rule): the keys the
    # earlier link minted are revoked with this session once the new ones are stored.
    found = ExchangeAccount.objects.filter(
        owner=owner, venue=venue_key, identity=signed.identity, origin=endpoints.origin
    ).first()
    days = venue_config.minted_key_days(venue_key)
    entry = _activity(
        owner,
        label,
        "mint_key",
        adapter.keys_path,
        {"mode": mode.key, "expires_in_days": days},
    )
    try:
        linked: Linked = signed.mint(mode.key, days)
    except errors.VenueError as exc:
        words = refusal_words(exc, endpoints.origin)
        _failed(entry, exc, f"No key was minted: {words}")
        _discard(signed)
        raise LinkError(words) from None
    ids = list(linked.public_ids.values())
    minted = f"Minted {mode.label.lower()} key {', '.join(ids)}, valid {days} days."
    _settle(entry, AuditStatus.DONE, minted)
    earlier = _minted_ids(found) if found is not None else []
    try:
        account = linked_store(
            owner=owner, venue=venue_key, endpoints=endpoints, linked=linked, label=label
        )
    except (IntegrityError, LinkError) as exc:
        _revoke_unstored(owner, label, adapter, signed, ids)
        if isinstance(exc, LinkError):
            raise
        raise LinkError("This account was linked in another tab a moment ago.") from None
    if earlier:  # a re-link: the keys the earlier link minted end with it
        _revoke_with(owner, account, adapter, signed, earlier)
    if not mode.can_trade:
        minted += _discard(signed)
    AuditEntry.objects.filter(pk=entry.pk).update(
        account=account, account_label=account.label, result=minted[:300]
    )
    return account


def _minted_ids(account: ExchangeAccount) -> list[str]:
    rows = account.credentials.filter(meta__minted=True).exclude(public_id="")
    return list(rows.values_list("public_id", flat=True))


def _revoke_unstored(
    owner: User, label: str, adapter: Any, signed: MintSession, ids: list[str]
) -> None:
    """A key minted for a link that was not stored is revoked at once."""
    entry = _activity(owner, label, "revoke_key", adapter.keys_path, {"key_ids": ids})
    try:
        signed.revoke(ids)
    except errors.VenueError as exc:
        _failed(entry, exc, f"The key minted for a refused link was not revoked: {exc.message}")
    else:
        _settle(entry, AuditStatus.DONE, "Revoked the key minted for a refused link.")
    _discard(signed)


def _revoke_with(
    owner: User, account: ExchangeAccount, adapter: Any, signed: MintSession, ids: list[str]
) -> None:
    entry = _activity(owner, account.label, "revoke_key", adapter.keys_path, {"key_ids": ids})
    AuditEntry.objects.filter(pk=entry.pk).update(account=account)
    try:
        signed.revoke(ids)
    except errors.VenueError as exc:
        _failed(entry, exc, f"The earlier link's keys were not revoked: {exc.message}")
    else:
        _settle(entry, AuditStatus.DONE, f"Revoked the earlier link's keys {', '.join(ids)}.")


def account_unlink_revoking(*, owner: User, account: ExchangeAccount) -> str:
    """Unlink, first revoking at the venue the keys this server minted for the account (the
    intent committed before the call, the outcome after); returns what became of them, in
    words. The account is unlinked either way: a key that could not be revoked is named, with
    when it lapses."""
    ids = _minted_ids(account)
    try:
        adapter = mint_adapter(account.venue)
    except LookupError:
        ids = []
    if not ids:
        account_unlink(account=account)
        return "its credentials are deleted."
    entry = _activity(owner, account.label, "revoke_key", adapter.keys_path, {"key_ids": ids})
    AuditEntry.objects.filter(pk=entry.pk).update(account=account)
    try:
        adapter.minted_revoke(
            venue_config.account_endpoints(account), credentials.credentials_open(account), ids
        )
    except errors.VenueError as exc:
        lapse = account.credentials.filter(public_id__in=ids).order_by("expires_at").first()
        when = f" on {lapse.expires_at:%Y-%m-%d}" if lapse and lapse.expires_at else ""
        words = (
            f"{adapter.name} did not revoke key {', '.join(ids)} ({exc.message}): our copy is "
            f"deleted, and the key lapses{when}. Revoke it sooner on {adapter.name}'s API keys "
            "page."
        )
        _failed(entry, exc, words)
    else:
        words = f"{adapter.name} revoked key {', '.join(ids)}, and our copy is deleted."
        _settle(entry, AuditStatus.DONE, words)
    account_unlink(account=account)
    return words
