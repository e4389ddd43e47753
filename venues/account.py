"""A linked account as every venue reports it: normalized records and the session that reads them.

Pure data: frozen dataclasses, ``Decimal`` money, text ids. Each adapter turns its client's
answers into these records; the sync stores them the same way whatever the venue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

ZERO = Decimal(0)


class Source:
    """Where a figure comes from: the venue said it, or our risk engine computed it."""

    REPORTED = "reported"
    COMPUTED = "computed"


@dataclass(frozen=True)
class AccountBalance:
    """The account's money in the settlement currency (USD-equivalent), normalized.

    ``cash`` is the wallet balance without unrealized PnL; ``equity`` = cash + ``upnl`` (plus
    anything the venue counts); ``margin_used`` is what open positions (and orders) hold;
    ``available`` what a new order could use. ``cross_balance``/``cross_upnl`` are the cross
    scope where the venue has one (the risk engine's cross equity). ``raw`` keeps the venue's
    own fields by their own names.
    """

    equity: Decimal
    cash: Decimal
    upnl: Decimal
    margin_used: Decimal
    available: Decimal | None
    locked: Decimal = ZERO
    maint_margin: Decimal | None = None
    realized_24h: Decimal | None = None
    cross_balance: Decimal | None = None
    cross_upnl: Decimal | None = None
    raw: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class BucketBalance:
    """One wallet of a venue with several (OCX: wallet, perps, options, spot)."""

    bucket: str
    asset: str
    available: Decimal
    locked: Decimal
    total: Decimal
    usd_value: Decimal | None


@dataclass(frozen=True)
class AccountPosition:
    """An open position. ``qty`` is signed (negative: short)."""

    symbol: str
    exchange_id: str
    qty: Decimal
    entry_price: Decimal
    margin_mode: str  # "cross", "isolated" or "portfolio"
    mark_price: Decimal | None = None
    notional: Decimal | None = None
    upnl: Decimal | None = None
    realized_pnl: Decimal | None = None
    leverage: Decimal | None = None
    initial_margin: Decimal | None = None
    isolated_margin: Decimal | None = None  # the margin an isolated position holds
    maint_margin: Decimal | None = None
    health_reported: Decimal | None = None  # the venue's own margin ratio, if it gives one
    liq_price: Decimal | None = None
    liq_source: str = Source.REPORTED  # who said ``liq_price``
    bankruptcy_price: Decimal | None = None
    opened_at: datetime | None = None
    # What tells apart two positions in one symbol where a venue holds more than one (OCX: an
    # isolated position beside the portfolio-margined one); empty where it holds one.
    position_key: str = ""


@dataclass(frozen=True)
class AccountOrder:
    """An order. ``status``: open, untriggered, filled, canceled, rejected or expired."""

    exchange_id: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    status: str
    time_in_force: str
    qty: Decimal
    price: Decimal | None
    fill_qty: Decimal
    fill_avg_price: Decimal | None
    reduce_only: bool
    leverage: Decimal | None
    is_liquidation: bool
    created_at: datetime | None
    updated_at: datetime | None
    reason: str = ""  # why the venue rejected or cancelled it, in its words


@dataclass(frozen=True)
class AccountFill:
    """One fill (a trade of the account's orders). ``fee`` is signed: a rebate is negative."""

    exchange_id: str
    order_exchange_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    value: Decimal | None
    fee: Decimal
    fee_asset: str
    realized_pnl: Decimal
    traded_at: datetime


@dataclass(frozen=True)
class ReadPlan:
    """What the sync knows before it reads: when the history is due, and where it stopped.

    The digests and cursors are the adapter's own (opaque to the sync): it wrote them in the
    previous :class:`AccountRead` and gets them back here.
    """

    full_due: bool
    idle: bool
    balance_digest: str
    activity_digest: str
    shape_digest: str
    order_cursor: str
    fill_cursor: str
    # The orders stored as open (asked only when the history is read): any the venue no longer
    # lists as open are looked up.
    held_open_orders: Callable[[], tuple[str, ...]] = tuple
    # The same orders as stored records, for a venue that cannot look an order up (PerpEx): it
    # settles the ones that left the book from the fills it reads.
    held_orders: Callable[[], tuple[AccountOrder, ...]] = tuple


@dataclass
class AccountRead:
    """Everything one sync read. ``quiet``: only the balance was read and it had not moved;
    ``full``: the history was read too (new orders and fills, cursors moved)."""

    positions: list[AccountPosition]
    balance: AccountBalance
    open_orders: list[AccountOrder]
    new_orders: list[AccountOrder] = field(default_factory=list)
    new_fills: list[AccountFill] = field(default_factory=list)
    refreshed_orders: list[AccountOrder] = field(default_factory=list)
    buckets: list[BucketBalance] = field(default_factory=list)
    quiet: bool = False
    full: bool = True
    order_cursor: str = ""
    fill_cursor: str = ""
    balance_digest: str = ""
    activity_digest: str = ""
    shape_digest: str = ""


@dataclass(frozen=True)
class OrderRequest:
    """One order to send, normalized; ``client_order_id`` makes a resend of the same form safe."""

    symbol: str
    side: str  # "buy" or "sell"
    order_type: str  # "limit", "market", …
    qty: Decimal
    client_order_id: str
    price: Decimal | None = None
    time_in_force: str = "gtc"
    reduce_only: bool = False
    post_only: bool = False
    tp_price: Decimal | None = None
    sl_price: Decimal | None = None
    leverage: int | None = None
    margin_mode: str | None = None
    stop_price: Decimal | None = None  # a "stop" order's trigger (venues that take stops)


@dataclass(frozen=True)
class Placed:
    """The venue took the request. ``accepted``: its matching engine's verdict when it gives one
    at once (None: ask later by client order id); ``reason`` says why when it is False."""

    request_id: str
    accepted: bool | None = None
    reason: str = ""
    order: AccountOrder | None = None


class AccountSession(Protocol):
    """One linked account's private data, read and written with its credentials. A context
    manager. Methods raise :class:`venues.errors.VenueError` (translated, in plain words).

    Writes return the venue's request id (for the audit log). What a venue cannot do natively
    (cancel-all, close) the services emulate from these primitives, as the capabilities say.
    """

    def __enter__(self) -> AccountSession: ...

    def __exit__(self, *exc: object) -> None: ...

    # read
    def read(self, plan: ReadPlan) -> AccountRead: ...

    def balance(self) -> AccountBalance: ...

    def positions(self) -> list[AccountPosition]: ...

    def open_orders(self) -> list[AccountOrder]: ...

    def order_by_client_id(self, client_order_id: str) -> AccountOrder | None: ...

    # write
    def request_path(self, action: str) -> str:
        """The venue's route for an action ("place", "cancel", …), for the audit log."""
        ...

    def place(self, request: OrderRequest) -> Placed: ...

    def cancel(self, order_id: str) -> str: ...

    def cancel_many(self, order_ids: list[str]) -> str: ...

    def add_margin(self, symbol: str, amount: Decimal) -> str: ...

    def set_leverage(self, symbol: str, leverage: int) -> str: ...

    def set_margin_mode(self, symbol: str, mode: str) -> str: ...


# --- linking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkField:
    """One field of a venue's "paste your credentials" form (capabilities decide the form)."""

    name: str
    label: str
    secret: bool  # a password input, never echoed back
    required: bool = True
    help_text: str = ""


@dataclass(frozen=True, repr=False)
class Linked:
    """A verified link, about to be stored: who the account is and its secrets by kind.

    ``secrets`` maps a credential kind (``accounts.models.CredentialKind``) to its plaintext;
    ``scopes`` and ``public_ids`` are safe to show. The repr names no secret.
    """

    identity: str
    label_hint: str
    can_trade: bool
    expires_at: datetime | None
    secrets: Mapping[str, str]
    scopes: Mapping[str, tuple[str, ...]]
    public_ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    chain: str = ""
    # The kinds this link minted at the venue (unlinking revokes them), and each kind's own
    # expiry where it differs from ``expires_at`` (the earliest, for the expiry alert).
    minted: frozenset[str] = frozenset()
    expiries: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:
        return (
            f"Linked(identity={self.identity!r}, can_trade={self.can_trade}, "
            f"kinds={sorted(self.secrets)})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("Linked credentials are not picklable: pass the account id instead.")


@runtime_checkable
class PastedLink(Protocol):
    """A venue linked by pasting credentials: the form's fields, then a verified link."""

    link_fields: tuple[LinkField, ...]

    def link_identity(self, fields: Mapping[str, str]) -> str | None:
        """Who the pasted credentials name, when the paste itself says (nothing is sent)."""
        ...

    def link_pasted(
        self, endpoints: Any, fields: Mapping[str, str], check: SignedCheck | None = None
    ) -> Linked:
        """Check the pasted credentials against the venue (read access; trade permission by a
        request that cannot change anything) and name the account. Raises ``VenueError``
        (``BadInput`` for a malformed paste) in plain words. ``check`` is told just before the
        signed trade-permission request is sent and when it is answered (the caller logs it in
        the trader's Activity), and not at all when the check stops earlier."""
        ...


class SignedCheck(Protocol):
    """Where a link's signed check is logged: told before the signed request leaves and once
    its answer is known (the trader's activity log keeps every signed request)."""

    def sending(self, path: str, body: Mapping[str, Any]) -> None: ...

    def answered(self, ok: bool, words: str) -> None: ...


@dataclass(frozen=True, repr=False)
class WalletChallenge:
    """A wallet sign-in between "begin" and "complete": the text the wallet signs, and the
    adapter's state to finish it (secret: it may hold a temporary key; store it encrypted)."""

    address: str
    message: str
    state: Mapping[str, str]

    def __repr__(self) -> str:
        return f"WalletChallenge(address={self.address!r})"


@runtime_checkable
class WalletLink(Protocol):
    """A venue linked by signing a challenge in the trader's browser wallet."""

    def link_begin_wallet(self, endpoints: Any, chain: str, address: str) -> WalletChallenge: ...

    def link_complete_wallet(
        self, endpoints: Any, state: Mapping[str, str], signature: str
    ) -> Linked: ...


@dataclass(frozen=True)
class LinkMode:
    """One way a wallet sign-in can link an account (what it mints, what is kept), as the
    linking page explains it."""

    key: str
    label: str
    explanation: str
    can_trade: bool


class MintSession(Protocol):
    """A signed-in session at the venue, held only while a link is minted or revoked (its repr
    names no secret; it is never stored unless the mode keeps it)."""

    identity: str
    label_hint: str

    def mint(self, mode: str, days: int) -> Linked:
        """Mint the mode's API key(s), valid ``days``; the session is among the secrets only
        when the mode keeps it."""
        ...

    def revoke(self, key_ids: list[str]) -> None: ...

    def discard(self) -> None:
        """End the session at the venue (a mode that does not keep it)."""
        ...


@runtime_checkable
class KeyMintLink(Protocol):
    """A venue linked by a wallet sign-in in the trader's browser whose session mints scoped
    API keys (OCX): the trader picks a mode; unlinking revokes the keys it minted."""

    mint_modes: tuple[LinkMode, ...]
    keys_path: str  # the venue's route for its API keys (for the Activity log)

    def mint_begin(self, endpoints: Any, address: str) -> WalletChallenge:
        """The venue's sign-in message for ``address``'s wallet to sign (nothing secret)."""
        ...

    def mint_sign_in(
        self, endpoints: Any, state: Mapping[str, str], signature: str
    ) -> MintSession: ...

    def minted_revoke(self, endpoints: Any, secrets: Mapping[str, str], key_ids: list[str]) -> None:
        """Revoke minted keys with a stored session; ``VenueError`` when none can."""
        ...
