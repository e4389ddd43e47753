"""OCX accounts over ``ocx/``: the read, the writes with the credential each needs, and linking
by pasted API keys.

**Credentials.** An account holds up to three secrets, by kind: a ``read`` key, a ``trade`` key
and the SIWE session (``ocx/__init__`` assumption 2 says which call takes which). Reads go with
the read key (the trade key if it is the only key), falling back to the session when OCX refuses
a key. Writes take the weakest credential that suffices: cancelling takes the trade key (cancel-
all scoped to the order's client order id, or unscoped when every open order goes), placing a
single order needs the session. What the stored credentials cannot do is refused in words before
anything is sent. Nothing here can move funds (the client refuses ``/wallet/withdraw`` anyway).

**The read, tiered.** OCX does not limit account reads (only the order path), but the sync plans
a budget, so the read spends as little as OCX allows:

- a flat account without orders costs one call (``GET /wallet/assets``) while its buckets stand
  still: their totals, and what is locked, move with any deposit, transfer, fee, fill or order;
- otherwise four (assets, ``/perps/balances``, positions, open orders), plus the order and fill
  history only when a position's shape, an open order or a bucket total moved, or a full read
  is due.

**Cursors** are the newest order id and the newest fill id stored: OCX ids are ULIDs, which sort
in time order, and both lists come newest first (``ocx/__init__`` assumption 4). Orders stored as
open that OCX no longer lists as open are looked for further back in the history (OCX has no
order-by-id call), at most :data:`REFRESH_SCAN` orders past the cursor.

**Risk is reported.** Each position carries OCX's own liquidation price (``liq_source``
"reported") and no maintenance margin of its own: portfolio margin gives one for the perps
bucket (``AccountBalance.maint_margin``). OCX's ``cross`` is that portfolio-margined bucket, so
it reads as margin mode ``"portfolio"``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from ocx import errors as ocx_errors
from ocx import models as ox
from ocx.auth import ApiKey, PendingSignIn, Session
from ocx.ratelimit import RateLimiter
from ocx.rest import OCXClient
from venues import errors
from venues.account import (
    ZERO,
    AccountBalance,
    AccountFill,
    AccountOrder,
    AccountPosition,
    AccountRead,
    BucketBalance,
    Linked,
    LinkField,
    LinkMode,
    OrderRequest,
    Placed,
    ReadPlan,
    SignedCheck,
    Source,
    WalletChallenge,
)
from venues.ocx_common import NAME, translate, translated

# The credential kinds (accounts.models.CredentialKind) the secrets are stored under.
SESSION_KIND = "ocx_session"
READ_KEY_KIND = "ocx_api_key_read"
TRADE_KEY_KIND = "ocx_api_key_trade"
USD_ASSETS = frozenset({"USDC", "USD"})  # counted as dollars; other assets have no value here
PAGE = 200  # orders or fills per history page
OPEN_LIMIT = 500  # the most open orders one call lists
REFRESH_SCAN = 1000  # orders read past the cursor looking for formerly open ones, at most
LOOKUP_SCAN = 1000  # recent orders searched for a client order id, at most
# OCX's order statuses in the normalized set (open, untriggered, filled, canceled, rejected,
# expired); a partly filled order is still open.
STATUSES = {"partially_filled": "open", "new": "open", "cancelled": "canceled"}
PATHS = {
    "place": "/perps/orders",
    "cancel": "/perps/orders/{orderId}/cancel",
    "cancel_many": "/perps/orders/cancel-all",
}
NO_ENDPOINT = "(none: OCX has no such call)"


def planned_requests(*, full_due: bool, idle: bool) -> int:
    """The calls :meth:`OCXAccountSession.read` is sure to make: the assets alone for an idle
    account on the quiet path; assets, perps balance, positions and open orders otherwise; plus
    the first page of orders and of fills when a full read is due."""
    if full_due:
        return 6
    return 1 if idle else 4


# --- mapping -------------------------------------------------------------------------------


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("|".join(sorted(parts)).encode()).hexdigest()


def balance_digest(assets: list[ox.AssetBalance]) -> str:
    """Everything the buckets say: moves with any activity, including a new order (locked)."""
    return _digest(
        f"{a.bucket}:{a.asset}:{_num(a.total)}:{_num(a.available)}:{_num(a.locked)}" for a in assets
    )


def activity_digest(assets: list[ox.AssetBalance]) -> str:
    """The buckets' totals: they move with fills, fees, funding and transfers, not with marks
    (what is locked follows the marks through the margin)."""
    return _digest(f"{a.bucket}:{a.asset}:{_num(a.total)}" for a in assets)


def shape_digest(positions: list[AccountPosition], open_orders: list[AccountOrder]) -> str:
    """What changes only through trading: each position's size, entry and mode, and each open
    order's id, status and filled size."""
    return _digest(
        [
            *(
                f"p:{p.symbol}:{p.margin_mode}:{_num(p.qty)}:{_num(p.entry_price)}"
                for p in positions
            ),
            *(f"o:{o.exchange_id}:{o.status}:{_num(o.fill_qty)}" for o in open_orders),
        ]
    )


def margin_mode(ocx_mode: str | None) -> str:
    """OCX's ``cross`` is its portfolio-margined perps bucket."""
    return "isolated" if ocx_mode == "isolated" else "portfolio"


def ocx_margin_mode(mode: str | None) -> str | None:
    """A normalized margin mode as OCX takes it on an order."""
    if mode in (None, ""):
        return None
    if mode in ("portfolio", "cross"):
        return "cross"
    if mode == "isolated":
        return "isolated"
    raise errors.BadInput(NAME, f"OCX has no {mode} margin mode (portfolio or isolated)")


def buckets(assets: list[ox.AssetBalance]) -> list[BucketBalance]:
    return [
        BucketBalance(
            bucket=a.bucket,
            asset=a.asset,
            available=a.available,
            locked=a.locked,
            total=a.total,
            usd_value=a.total if a.asset in USD_ASSETS else None,
        )
        for a in assets
    ]


def flat_perps(assets: list[ox.AssetBalance]) -> ox.PerpsBalance:
    """What ``/perps/balances`` says of an account with no position and no order: equity is the
    perps bucket, nothing is margined (read from the assets, so an idle read costs one call)."""
    perps = [a for a in assets if a.bucket == "perps" and a.asset in USD_ASSETS]
    total = sum((a.total for a in perps), ZERO)
    locked = sum((a.locked for a in perps), ZERO)
    return ox.PerpsBalance("USDC", total, total, ZERO, locked, ZERO, total - locked)


def balance(perps: ox.PerpsBalance, assets: list[ox.AssetBalance]) -> AccountBalance:
    """The account in dollars across the four buckets: ``cash`` is every USD-valued bucket,
    ``equity`` adds the perps uPnL; margin, maintenance and availability are the perps bucket's
    (portfolio margin), the cross scope the risk engine reads."""
    usd = [a for a in assets if a.asset in USD_ASSETS]
    cash = sum((a.total for a in usd), ZERO)
    upnl = perps.unrealized_pnl or ZERO
    raw = {
        f"perps.{name}": _num(value)
        for name, value in (
            ("balance", perps.balance),
            ("equity", perps.equity),
            ("unrealizedPnl", perps.unrealized_pnl),
            ("initialMargin", perps.initial_margin),
            ("maintenanceMargin", perps.maintenance_margin),
            ("available", perps.available),
        )
        if value is not None
    }
    for a in assets:
        raw[f"{a.bucket}.{a.asset}.total"] = _num(a.total)
        raw[f"{a.bucket}.{a.asset}.locked"] = _num(a.locked)
    perps_cash = perps.balance
    if perps_cash is None:
        perps_cash = sum((a.total for a in usd if a.bucket == "perps"), ZERO)
    return AccountBalance(
        equity=cash + upnl,
        cash=cash,
        upnl=upnl,
        margin_used=perps.initial_margin
        if perps.initial_margin is not None
        else sum((a.locked for a in usd), ZERO),
        available=perps.available,
        locked=sum((a.locked for a in usd), ZERO),
        maint_margin=perps.maintenance_margin,
        cross_balance=perps_cash,
        cross_upnl=upnl,
        raw=MappingProxyType(raw),
    )


def position(p: ox.Position) -> AccountPosition:
    # OCX's liquidation price is the truth (portfolio margin); per position there is no
    # maintenance margin to give.
    mark = p.mark_price
    return AccountPosition(
        symbol=p.market_id,
        exchange_id=p.id or f"{p.market_id}:{p.margin_mode or 'cross'}",
        qty=p.size,
        entry_price=p.entry_price,
        margin_mode=margin_mode(p.margin_mode),
        mark_price=mark,
        notional=None if mark is None else abs(p.size) * mark,
        upnl=p.unrealized_pnl,
        realized_pnl=p.realized_pnl,
        leverage=p.leverage,
        maint_margin=None,
        liq_price=p.liquidation_price,
        liq_source=Source.REPORTED,
        opened_at=p.created_at,
        # OCX keys a position by (market, margin mode): the isolated one stands apart.
        position_key="isolated" if p.margin_mode == "isolated" else "",
    )


def order(o: ox.Order) -> AccountOrder:
    reason = o.reason or ""
    return AccountOrder(
        exchange_id=o.id,
        client_order_id=o.client_order_id or "",
        symbol=o.market_id,
        side=o.side,
        order_type=o.type,
        status=STATUSES.get(o.status, o.status),
        time_in_force=o.time_in_force or "",
        qty=o.quantity,
        price=o.price,
        fill_qty=o.filled_quantity,
        fill_avg_price=o.avg_fill_price,
        reduce_only=o.reduce_only,
        leverage=None,  # portfolio margin: OCX orders carry no leverage
        # No flag is documented: OCX's own closing orders say "liquidation" as their reason.
        is_liquidation="liquidat" in reason.lower(),
        created_at=o.created_at,
        updated_at=o.updated_at,
        reason=reason,
    )


def fill(f: ox.Fill) -> AccountFill:
    return AccountFill(
        exchange_id=f.id,
        order_exchange_id=f.order_id or "",
        symbol=f.market_id,
        side=f.side,
        qty=f.quantity,
        price=f.price,
        value=f.price * f.quantity,
        fee=f.fee or ZERO,
        fee_asset=f.fee_asset or "USDC",
        realized_pnl=f.realized_pnl or ZERO,
        traded_at=f.created_at,
    )


def _advance(cursor: str, ids: Iterable[str]) -> str:
    """The newest id of the cursor and ``ids`` (ULIDs compare as text)."""
    return max([cursor, *ids])


def _newer(ids: Iterator[ox.Fill], cursor: str) -> list[ox.Fill]:
    out = []
    for item in ids:
        if cursor and item.id <= cursor:
            break
        out.append(item)
    return out


# --- the session ---------------------------------------------------------------------------


class OCXAccountSession:
    """One OCX account's private data. ``reader`` holds the read key (or the only key) and the
    session; ``writer`` the trade key and the session. A context manager like its clients."""

    def __init__(self, reader: OCXClient, writer: OCXClient) -> None:
        self._reader = reader
        self._writer = writer

    def __enter__(self) -> OCXAccountSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self._reader.close()
        self._writer.close()

    def __repr__(self) -> str:
        return f"OCXAccountSession({self._writer.base_url!r}, can_trade={self.can_cancel})"

    @property
    def has_session(self) -> bool:
        return self._writer.session is not None

    @property
    def can_cancel(self) -> bool:
        """A trade key or a session: cancel-all (the kill switch) works."""
        return self._writer.api_key is not None or self.has_session

    # -- reads -----------------------------------------------------------------------------

    def balance(self) -> AccountBalance:
        with translated():
            return balance(self._reader.perps_balances(), self._reader.wallet_assets())

    def buckets(self) -> list[BucketBalance]:
        with translated():
            return buckets(self._reader.wallet_assets())

    def positions(self) -> list[AccountPosition]:
        with translated():
            return [position(p) for p in self._reader.positions()]

    def open_orders(self) -> list[AccountOrder]:
        with translated():
            return [order(o) for o in self._reader.open_orders(limit=OPEN_LIMIT)]

    def order_by_client_id(self, client_order_id: str) -> AccountOrder | None:
        """The order with this client order id among the open ones, then the most recent
        :data:`LOOKUP_SCAN` of the history (OCX has no lookup by client order id)."""
        with translated():
            found = self._find(client_order_id)
        return None if found is None else order(found)

    def _find(self, client_order_id: str) -> ox.Order | None:
        for o in self._reader.open_orders(limit=OPEN_LIMIT):
            if o.client_order_id == client_order_id:
                return o
        for scanned, o in enumerate(self._reader.iter_orders(page_size=PAGE)):
            if o.client_order_id == client_order_id:
                return o
            if scanned + 1 >= LOOKUP_SCAN:
                break
        return None

    def read(self, plan: ReadPlan) -> AccountRead:
        with translated():
            return self._read(plan)

    def _read(self, plan: ReadPlan) -> AccountRead:
        client = self._reader
        assets = client.wallet_assets()
        if not plan.full_due and plan.idle and balance_digest(assets) == plan.balance_digest:
            quiet = AccountRead(
                [],
                balance(flat_perps(assets), assets),
                [],
                buckets=buckets(assets),
                quiet=True,
                full=False,
            )
            return self._finish(quiet, plan, assets)
        perps = client.perps_balances()
        positions = [position(p) for p in client.positions()]
        open_orders = [order(o) for o in client.open_orders(limit=OPEN_LIMIT)]
        b = balance(perps, assets)
        moved = (
            plan.full_due
            or shape_digest(positions, open_orders) != plan.shape_digest
            or activity_digest(assets) != plan.activity_digest
        )
        if not moved:
            read = AccountRead(positions, b, open_orders, buckets=buckets(assets), full=False)
            return self._finish(read, plan, assets)
        new_orders, refreshed = self._orders_since(plan, open_orders)
        new_fills = _newer(client.iter_fills(page_size=PAGE), plan.fill_cursor)
        read = AccountRead(
            positions,
            b,
            open_orders,
            new_orders=[order(o) for o in new_orders],
            new_fills=[fill(f) for f in new_fills],
            refreshed_orders=[order(o) for o in refreshed],
            buckets=buckets(assets),
            order_cursor=_advance(plan.order_cursor, (o.id for o in new_orders)),
            fill_cursor=_advance(plan.fill_cursor, (f.id for f in new_fills)),
        )
        return self._finish(read, plan, assets)

    def _orders_since(
        self, plan: ReadPlan, open_orders: list[AccountOrder]
    ) -> tuple[list[ox.Order], list[ox.Order]]:
        """Orders newer than the cursor, and the formerly open ones OCX no longer lists as open
        (found further back in the same newest-first pass)."""
        cursor = plan.order_cursor
        still_open = {o.exchange_id for o in open_orders}
        gone = {i for i in plan.held_open_orders() if i not in still_open}
        new: list[ox.Order] = []
        refreshed: list[ox.Order] = []
        scanned = 0
        for o in self._reader.iter_orders(page_size=PAGE):
            if not cursor or o.id > cursor:
                new.append(o)
                gone.discard(o.id)
                continue
            if not gone or o.id < min(gone) or scanned >= REFRESH_SCAN:
                break
            scanned += 1
            if o.id in gone:
                refreshed.append(o)
                gone.discard(o.id)
        return new, refreshed

    @staticmethod
    def _finish(read: AccountRead, plan: ReadPlan, assets: list[ox.AssetBalance]) -> AccountRead:
        read.balance_digest = balance_digest(assets)
        if read.quiet:
            read.activity_digest, read.shape_digest = plan.activity_digest, plan.shape_digest
        else:
            read.activity_digest = activity_digest(assets)
            read.shape_digest = shape_digest(read.positions, read.open_orders)
        if not read.full:
            read.order_cursor, read.fill_cursor = plan.order_cursor, plan.fill_cursor
        return read

    # -- writes ----------------------------------------------------------------------------

    def request_path(self, action: str) -> str:
        return PATHS.get(action, NO_ENDPOINT)

    def _refuse_monitor_only(self) -> None:
        if not self.can_cancel:
            raise errors.Rejected(
                NAME,
                "this account is linked to monitor only (a read key): "
                "link it for trading to place or cancel orders",
                "MONITOR_ONLY",
            )

    def _refuse_without_session(self, what: str) -> None:
        self._refuse_monitor_only()
        if not self.has_session:
            raise errors.Rejected(
                NAME,
                f"{what} needs a signed-in OCX session and this account holds API keys only: "
                "sign in with the wallet to link it for trading",
                "SESSION_REQUIRED",
            )

    def place(self, request: OrderRequest) -> Placed:
        """POST the order with its ``clientOrderId`` (the session's call). The answer carries the
        order with its fills, so the verdict is known at once; a 409 means it was placed before:
        the order found by its client order id is returned, never a second order."""
        self._refuse_without_session("Placing a single order")
        tif = request.time_in_force
        post_only = request.post_only or tif == "alo"
        try:
            result = self._writer.place_order(
                request.symbol,
                request.side,
                request.qty,
                order_type=request.order_type,
                price=request.price,
                time_in_force="gtc" if tif == "alo" else (tif or None),
                post_only=post_only,
                reduce_only=request.reduce_only,
                margin_mode=ocx_margin_mode(request.margin_mode),
                client_order_id=request.client_order_id,
                take_profit_price=request.tp_price,
                stop_loss_price=request.sl_price,
            )
        except ValueError as exc:  # the client checks the order's shape before sending
            raise errors.BadInput(NAME, str(exc)) from None
        except ocx_errors.DuplicateOrderError as exc:
            found = self.order_by_client_id(request.client_order_id)
            if found is None:
                raise translate(exc) from exc
            return Placed(found.exchange_id, accepted=None, order=found)
        except ocx_errors.OCXError as exc:
            raise translate(exc) from exc
        placed = order(result.order)
        accepted = placed.status != "rejected"
        return Placed(
            placed.exchange_id,
            accepted=accepted,
            reason="" if accepted else (placed.reason or "rejected by the matching engine"),
            order=placed,
        )

    def cancel(self, order_id: str) -> str:
        self._refuse_monitor_only()
        with translated():
            if self._writer.api_key is None:
                return self._cancel_with_session(order_id)
            found = next(
                (o for o in self._reader.open_orders(limit=OPEN_LIMIT) if o.id == order_id), None
            )
        if found is None:
            raise errors.NotFound(NAME, f"There is no open order {order_id[:40]!r} here.")
        return self._cancel_open(found)

    def _cancel_open(self, found: ox.Order) -> str:
        """Cancel an order known to be open: by the trade key, scoped to its client order id;
        by the session when it has none."""
        if found.client_order_id and self._writer.api_key is not None:
            with translated():
                result = self._writer.cancel_all(client_order_id=found.client_order_id)
            if found.id not in result.order_ids and result.canceled == 0:
                raise errors.NotFound(NAME, f"The order {found.id} is no longer open.")
            return found.id
        self._refuse_without_session("Cancelling an order placed without a client order id")
        with translated():
            return self._cancel_with_session(found.id)

    def _cancel_with_session(self, order_id: str) -> str:
        try:
            self._writer.cancel_order(order_id)
        except ValueError:
            raise errors.NotFound(NAME, f"There is no order {order_id[:40]!r}.") from None
        except ocx_errors.DuplicateOrderError as exc:  # 409 here: the order is not open
            raise errors.Rejected(NAME, f"the order is no longer open ({exc.message})") from exc
        return order_id

    def cancel_many(self, order_ids: list[str]) -> str:
        """OCX's own cancel-all (one order-path call, a trade key will do) when the orders are
        all the account's open orders; otherwise one by one."""
        self._refuse_monitor_only()
        with translated():
            open_now = self._reader.open_orders(limit=OPEN_LIMIT)
            wanted = set(order_ids)
            if open_now and {o.id for o in open_now} <= wanted:
                result = self._writer.cancel_all()
                return f"cancel-all:{result.canceled}"
        done = [self._cancel_open(o) for o in open_now if o.id in wanted]
        return f"canceled:{len(done)}"

    def add_margin(self, symbol: str, amount: Decimal) -> str:
        raise errors.unsupported(
            NAME,
            "OCX has no isolated margin to add: the perps bucket margins every position "
            "(move funds into it with a bucket transfer)",
        )

    def set_leverage(self, symbol: str, leverage: int) -> str:
        raise errors.unsupported(
            NAME,
            "OCX sets no leverage: portfolio margin sizes each position's margin from its risk",
        )

    def set_margin_mode(self, symbol: str, mode: str) -> str:
        raise errors.unsupported(
            NAME,
            "OCX sets no margin mode on a market: each order says cross (portfolio) or isolated",
        )


def _key(secrets: Mapping[str, str], kind: str, scope: str) -> ApiKey | None:
    secret = secrets.get(kind)
    return ApiKey(secret, scope=scope) if secret else None


def _fingerprint(secret: str) -> str:
    return "key:" + hashlib.sha256(secret.encode()).hexdigest()[:16]


def session_for(
    base_url: str,
    secrets: Mapping[str, str],
    *,
    limiter: RateLimiter | None = None,
    retries: int | None = None,
) -> OCXAccountSession:
    """A session over the stored secrets (by credential kind)."""
    try:
        session = Session(secrets[SESSION_KIND]) if secrets.get(SESSION_KIND) else None
        read_key = _key(secrets, READ_KEY_KIND, "read")
        trade_key = _key(secrets, TRADE_KEY_KIND, "trade")
    except ocx_errors.KeyFormatError:
        raise errors.AuthExpired(NAME, "The stored credentials are unreadable; re-link.") from None
    if session is None and read_key is None and trade_key is None:
        raise errors.AuthExpired(NAME, "This account's credentials were deleted; re-link it.")
    first_key = read_key or trade_key
    # The budget is counted per OCX user; with keys only, the user id is not known offline.
    budget_key = _fingerprint(first_key.secret) if first_key is not None else None
    retry = 3 if retries is None else retries
    reader = OCXClient(
        base_url,
        session=session,
        api_key=first_key,
        read_limiter=limiter,
        budget_key=budget_key,
        max_retries=retry,
    )
    writer = OCXClient(
        base_url, session=session, api_key=trade_key, budget_key=budget_key, max_retries=retry
    )
    return OCXAccountSession(reader, writer)


# --- linking by pasted keys ----------------------------------------------------------------

LINK_FIELDS = (
    LinkField(
        "read_key",
        "Read key",
        secret=True,
        help_text="An OCX API key with the read scope (ocx_sk_…), from OCX's API keys page. "
        "It follows balances, positions and orders; it cannot trade.",
    ),
    LinkField(
        "read_key_id",
        "Read key ID",
        secret=False,
        required=False,
        help_text="The key's ID (ocx_kid_…) shown beside it in OCX's list, so both sides "
        "name the same key.",
    ),
    LinkField(
        "trade_key",
        "Trade key",
        secret=True,
        required=False,
        help_text="Optional: a trade-scoped key, for cancelling orders (the kill switch). "
        "Placing single orders needs a wallet sign-in as well.",
    ),
    LinkField("trade_key_id", "Trade key ID", secret=False, required=False),
)
SCOPES = {READ_KEY_KIND: ("read",), TRADE_KEY_KIND: ("read", "trade")}


def _pasted_key(fields: Mapping[str, str], name: str, label: str) -> ApiKey | None:
    text = (fields.get(name) or "").strip()
    if not text:
        return None
    try:
        return ApiKey(text, scope="read" if name == "read_key" else "trade")
    except ocx_errors.KeyFormatError:
        raise errors.BadInput(NAME, f"The {label} has spaces in it: paste it again.") from None


def _key_id(fields: Mapping[str, str], name: str) -> str:
    text = (fields.get(name) or "").strip()
    if len(text) > 64 or any(c.isspace() for c in text):
        raise errors.BadInput(NAME, "A key ID is one word of at most 64 characters (ocx_kid_…).")
    return text


def _whose(client: OCXClient, label: str) -> tuple[str, str]:
    """(user id, wallet address) of the key's account, by a read that changes nothing."""
    try:
        me = client.portfolio()
    except ocx_errors.AuthExpiredError:
        raise errors.BadInput(
            NAME, f"OCX does not accept the {label}: it is mistyped, revoked or expired."
        ) from None
    except ocx_errors.ForbiddenError as exc:
        raise errors.BadInput(NAME, f"OCX refused the {label}: {exc.message}.") from None
    user_id, wallet = me.get("userId"), me.get("walletAddress")
    if not isinstance(user_id, str) or not user_id:
        raise errors.Unavailable(NAME, "OCX's portfolio did not name the account")
    return user_id, wallet if isinstance(wallet, str) else ""


def _can_trade(client: OCXClient) -> bool:
    """Whether the key may trade, by cancelling the orders of a client order id that cannot
    exist (OCX checks the scope first; nothing is cancelled either way)."""
    try:
        client.cancel_all(client_order_id=f"link-check-{uuid.uuid4().hex}")
    except ocx_errors.ForbiddenError:
        return False
    return True


SCOPE_CHECK_PATH = "/perps/orders/cancel-all"  # the link's scope checks


def _label(user_id: str, wallet: str) -> str:
    return f"OCX {wallet[:6]}…{wallet[-4:]}" if len(wallet) > 10 else f"OCX {user_id[-6:]}"


def link_pasted(
    base_url: str, fields: Mapping[str, str], check: SignedCheck | None = None
) -> Linked:
    """Check pasted keys against OCX and name the account by OCX's user id.

    The read key must read and must not trade (a monitor-only link holds nothing that can). The
    trade key, if given, must belong to the same user and pass the scope check of cancel-all for
    a client order id that cannot exist. A key's expiry is not readable with the key itself
    (listing keys takes a session), so ``expires_at`` is None: OCX's 401 says when.
    """
    read_key = _pasted_key(fields, "read_key", "read key")
    if read_key is None:
        raise errors.BadInput(NAME, "Paste the read key (ocx_sk_…).")
    trade_key = _pasted_key(fields, "trade_key", "trade key")
    if trade_key is not None and trade_key.secret == read_key.secret:
        raise errors.BadInput(
            NAME, "The same key was pasted twice: the read key must be one with the read scope."
        )
    ids = {READ_KEY_KIND: _key_id(fields, "read_key_id")}
    with translated():
        reader = OCXClient(base_url, api_key=read_key)
        user_id, wallet = _whose(reader, "read key")
        read_key.user_id = user_id
        if check is not None:  # the scope checks are cancel-alls that cannot match anything
            check.sending(SCOPE_CHECK_PATH, {"client_order_id": "a made-up client order id"})
        if _can_trade(reader):
            raise errors.BadInput(
                NAME,
                "The key pasted as the read key can also trade. Paste a read-only key there "
                "(and this one as the trade key if the account should trade).",
            )
        secrets = {READ_KEY_KIND: read_key.secret}
        if trade_key is not None:
            trader = OCXClient(base_url, api_key=trade_key)
            if _whose(trader, "trade key")[0] != user_id:
                raise errors.BadInput(
                    NAME, "The trade key belongs to another OCX account than the read key."
                )
            trade_key.user_id = user_id
            if not _can_trade(trader):
                raise errors.BadInput(
                    NAME,
                    "The trade key has the read scope only: mint a trade-scoped key, or leave "
                    "the field empty to monitor only.",
                )
            secrets[TRADE_KEY_KIND] = trade_key.secret
            ids[TRADE_KEY_KIND] = _key_id(fields, "trade_key_id")
    if check is not None:
        permission = "may trade" if trade_key is not None else "is read-only"
        check.answered(True, f"The link {permission}; the made-up client order id changed nothing.")
    return Linked(
        identity=user_id,
        label_hint=_label(user_id, wallet),
        can_trade=trade_key is not None,
        expires_at=None,
        secrets=MappingProxyType(secrets),
        scopes=MappingProxyType({kind: SCOPES[kind] for kind in secrets}),
        public_ids=MappingProxyType({kind: i for kind, i in ids.items() if i}),
    )


# --- linking by a wallet sign-in that mints keys -------------------------------------------

MONITOR, TRADING = "monitor", "trading"
MINT_MODES = (
    LinkMode(
        MONITOR,
        "Monitor only",
        "Mints a read key and keeps only that: balances, positions and orders follow, nothing "
        "can trade. The sign-in session is ended at once.",
        can_trade=False,
    ),
    LinkMode(
        TRADING,
        "Trading",
        "Mints a trade key (cancel-all: the kill switch keeps working after the session "
        "expires) and keeps the 7-day sign-in session, encrypted, to place and close orders. "
        "An OCX session could also move funds between buckets or withdraw; this server has no "
        "call that does either, and you can unlink at any time.",
        can_trade=True,
    ),
)
KEYS_PATH = "/perps/me/api-keys"
KEY_NAMES = {MONITOR: "standx-portfolio-read", TRADING: "standx-portfolio-trade"}


def mint_begin(base_url: str, address: str) -> WalletChallenge:
    """OCX's nonce and the EIP-4361 message for the wallet (it names OCX's host)."""
    with translated():
        pending = OCXClient(base_url).begin_sign_in(address)
    state = {"address": pending.address, "nonce": pending.nonce, "message": pending.message}
    return WalletChallenge(pending.address, pending.message, MappingProxyType(state))


class OCXMintSession:
    """A fresh OCX session from the trader's signature, for minting (or revoking) keys."""

    def __init__(self, client: OCXClient, session: Session) -> None:
        self._client = client
        self._session = session
        self.identity = session.user_id or ""
        wallet = session.wallet_address or ""
        self.label_hint = _label(self.identity, wallet)

    def __repr__(self) -> str:
        return f"OCXMintSession(identity={self.identity!r})"

    def __reduce__(self) -> Any:
        raise TypeError("an OCX sign-in cannot be pickled; pass an account id instead")

    def mint(self, mode: str, days: int) -> Linked:
        if mode not in KEY_NAMES:
            raise errors.BadInput(NAME, "Choose monitor only or trading.")
        scope = "trade" if mode == TRADING else "read"
        with translated():
            created = self._client.create_api_key(KEY_NAMES[mode], scope, expires_in_days=days)
        kind = TRADE_KEY_KIND if mode == TRADING else READ_KEY_KIND
        key_expiry = created.key.expires_at
        secrets = {kind: created.secret}
        expiries = {kind: key_expiry} if key_expiry is not None else {}
        if mode == TRADING:
            secrets[SESSION_KIND] = self._session.token
            if self._session.expires_at is not None:
                expiries[SESSION_KIND] = self._session.expires_at
        return Linked(
            identity=self.identity,
            label_hint=self.label_hint,
            can_trade=mode == TRADING,
            expires_at=min(expiries.values()) if expiries else None,
            secrets=MappingProxyType(secrets),
            scopes=MappingProxyType(
                {
                    kind: SCOPES[kind],
                    **({SESSION_KIND: ("read", "trade")} if mode == TRADING else {}),
                }
            ),
            public_ids=MappingProxyType({kind: created.key.id}),
            minted=frozenset({kind}),
            expiries=MappingProxyType(expiries),
        )

    def revoke(self, key_ids: list[str]) -> None:
        _revoke(self._client, key_ids)

    def discard(self) -> None:
        with translated():
            self._client.logout()


def _revoke(client: OCXClient, key_ids: list[str]) -> None:
    with translated():
        for key_id in key_ids:
            try:
                client.revoke_api_key(key_id)
            except ocx_errors.NotFoundError:
                continue  # revoked or deleted on OCX already: nothing left to end


def mint_sign_in(base_url: str, state: Mapping[str, str], signature: str) -> OCXMintSession:
    """Exchange the wallet's signature of the message from :func:`mint_begin` for a session."""
    pending = PendingSignIn(state["address"], state["nonce"], state["message"])
    client = OCXClient(base_url)
    with translated():
        session = client.complete_sign_in(pending, signature.strip())
    if not session.user_id:
        raise errors.Unavailable(NAME, "OCX's sign-in did not name the account")
    return OCXMintSession(client, session)


def minted_revoke(base_url: str, secrets: Mapping[str, str], key_ids: list[str]) -> None:
    """Revoke the keys with the stored session (OCX manages keys only from a session)."""
    token = secrets.get(SESSION_KIND)
    try:
        session = Session(token) if token else None
    except ocx_errors.KeyFormatError:
        session = None
    if session is None or session.expired():
        raise errors.AuthExpired(
            NAME,
            "OCX revokes keys only from a signed-in session, and this link keeps none that is "
            "still valid",
        )
    _revoke(OCXClient(base_url, session=session), key_ids)
