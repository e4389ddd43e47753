"""Linking an account on any venue whose adapter takes pasted credentials (``PastedLink``).

The venue is asked first, outside any transaction (it checks read access and trade permission
and names the account); only then are the account and its credentials stored, together, in one
transaction. Every refusal is a :class:`accounts.services.LinkError` with a sentence to show;
nothing is stored then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from accounts.services import ActivityCheck, LinkError, linked_store
from accounts.twofactor.services import user_has_second_factor
from portfolio.models import AuditEntry  # portfolio's models import only ours
from venues import errors, registry
from venues.account import Linked, LinkField, PastedLink, WalletLink
from venues.base import Endpoints


def pasted_adapter(venue_key: str) -> Any:
    """The adapter of a venue linked by pasting credentials; LookupError for any other."""
    adapter = registry.adapter(venue_key)
    if not isinstance(adapter, PastedLink) or isinstance(adapter, WalletLink):
        # A venue with a wallet sign-in has its own page, which offers both ways (StandX's).
        raise LookupError(f"{adapter.name} accounts are not linked on this page")
    return adapter


def link_fields(venue_key: str) -> tuple[LinkField, ...]:
    return tuple(pasted_adapter(venue_key).link_fields)


def refusal_words(exc: errors.VenueError, origin: str) -> str:
    """Why the venue did not take the pasted credentials, as a sentence for the linking page."""
    venue = exc.venue
    reason = exc.message.strip().rstrip(".")
    if isinstance(exc, errors.BadInput):
        return exc.message
    if isinstance(exc, errors.AuthExpired):
        if "expired" in reason:
            return f"{venue} says {reason}. Create a new key on {venue} and paste that one."
        return (
            f"{venue} at {origin} did not accept this key. Check that you copied all of it and "
            f"that it belongs to this {venue} host (it may also have been revoked)."
        )
    if isinstance(exc, errors.Forbidden):
        return f"{venue} refused to show this account with this key: it needs the read permission."
    if isinstance(exc, errors.RateLimited):
        return f"{venue} is rate-limiting this key right now; try again in a minute."
    if isinstance(exc, errors.Unavailable):
        return f"{venue} could not be reached at {origin}, or did not answer like {venue}."
    if isinstance(exc, errors.NotFound):
        return f"{origin} does not answer like {venue} ({reason or 'not found'})."
    return f"{venue} refused: {reason or 'no reason given'}."


def _verify(
    adapter: Any, endpoints: Endpoints, fields: Mapping[str, str], owner: User, label: str
) -> tuple[Linked, AuditEntry | None]:
    """Ask the venue. Its trade-permission check is a signed request, so it is written to the
    owner's Activity before it is sent, like every other; a check that stops earlier (a
    malformed key, a refused read) writes nothing."""
    check = ActivityCheck(owner, label or adapter.name)
    try:
        linked: Linked = adapter.link_pasted(endpoints, fields, check)
    except errors.VenueError as exc:
        words = refusal_words(exc, endpoints.origin)
        check.failed(f"Key check failed: {words}", transient=exc.transient)
        raise LinkError(words) from None
    return linked, check.entry


def _refusal_to_trade(owner: User, venue: str) -> str | None:
    if settings.REQUIRE_SECOND_FACTOR_FOR_TRADING and not user_has_second_factor(owner):
        return (
            "This server requires a second factor for trading: set up an authenticator app or a "
            f"passkey under Security first, or paste a read-only {venue} key."
        )
    return None


def account_link_pasted(
    owner: User,
    venue_key: str,
    endpoints: Endpoints,
    fields: Mapping[str, str],
    label: str,
    *,
    replacing: Iterable[int] = (),
) -> ExchangeAccount:
    """Verify pasted credentials with the venue, then store the account and its credentials.

    The mode is "trading" exactly when the venue let the key trade. The same account on the
    same origin is linked once per user: linking it again renews its credentials (a rotated
    key, or one for an account that needs re-linking), as a StandX wallet sign-in does.
    ``replacing``: ids of the owner's accounts this link supersedes, deleted in the same
    transaction (the demo's simulator link).
    """
    try:
        adapter = pasted_adapter(venue_key)
    except LookupError as exc:
        raise LinkError(str(exc)) from None
    venue = adapter.name
    label = "".join(c for c in " ".join(label.split()) if c.isprintable())[:80]
    linked, check = _verify(adapter, endpoints, fields, owner, label)
    if linked.expires_at is not None and linked.expires_at <= timezone.now():
        raise LinkError(f"This key has already expired. Create a new one on {venue}.")
    if linked.can_trade and (refusal := _refusal_to_trade(owner, venue)):
        raise LinkError(refusal)
    try:
        account = _store(owner, adapter, endpoints, linked, label, set(replacing))
    except IntegrityError:  # a second tab linked the same account at the same moment
        raise LinkError(
            f"This {venue} account was being linked at the same moment: try again."
        ) from None
    if check is not None:
        AuditEntry.objects.filter(pk=check.pk).update(account=account, account_label=account.label)
    return account


@transaction.atomic
def _store(
    owner: User,
    adapter: Any,
    endpoints: Endpoints,
    linked: Linked,
    label: str,
    replaced: set[int],
) -> ExchangeAccount:
    if replaced:
        ExchangeAccount.objects.filter(owner=owner, pk__in=replaced).delete()
    return linked_store(
        owner=owner, venue=adapter.key, endpoints=endpoints, linked=linked, label=label
    )
