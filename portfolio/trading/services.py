"""Write side of trading from the dashboard: signed requests to a venue, each with its audit entry.

Every action checks that the account is the user's and linked for trading, throttles the user,
and **commits** an :class:`AuditEntry` (status "sending") *before* anything is sent; the venue is
called outside any transaction and its outcome recorded in a transaction of its own; follow-up
work is queued on commit. An order's ``cl_ord_id`` is claimed by the audit log's unique index, so
a double click or a retried form finds the first entry instead of sending again, and an entry
left "sending" by a crash is settled by asking the venue for that client order id
(:func:`audit_settle_stale`). The views that call these run outside the request transaction.

The venue's adapter speaks the protocol: on StandX the POST carries the session of an order
response stream that pushes the matching engine's verdict; the order is then looked up by
``cl_ord_id`` until it is open, filled or rejected, and a Celery task keeps following an order
the request could not settle.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import crypto
from accounts.credentials import credentials_open
from accounts.models import ExchangeAccount
from accounts.twofactor.services import trading_refusal
from portfolio import realtime
from portfolio.domain import order_rules
from portfolio.jobs import queue_after_commit
from portfolio.market import store as market
from portfolio.models import AuditEntry, AuditStatus, MarketPrice, MarketSymbol
from standx_web.redis_client import redis_client
from venues import errors as venue_errors
from venues import registry
from venues.account import AccountOrder, AccountSession, OrderRequest
from venues.base import Endpoints

logger = logging.getLogger(__name__)

RATE_LIMIT = 30  # signed requests per user per minute
OUTCOME_TRIES = 6
OUTCOME_WAIT_S = 0.25
# An entry still "sending" after this long was cut off (a crash, a killed worker): the settler
# asks the venue what became of it.
STALE_SENDING = timedelta(minutes=1)
# An order checked against an older stored mark reads a fresh one from the venue first.
MARK_FRESH = timedelta(minutes=1)
FINAL = {
    "filled": AuditStatus.FILLED,
    "canceled": AuditStatus.DONE,
    "rejected": AuditStatus.REJECTED,
}


class TradingError(Exception):
    """A refusal or an exchange error, in words for the trader (never a secret)."""


def new_cl_ord_id() -> str:
    """A fresh client order id for one rendering of the order form (at most 64 characters)."""
    return f"sxp-{secrets.token_hex(12)}"


def trading_account(user_id: int, account_id: int) -> ExchangeAccount:
    account = (
        ExchangeAccount.objects.filter(pk=account_id, owner_id=user_id)
        .select_related("owner")
        .first()
    )
    if account is None:
        raise TradingError("No such account.")
    if not account.can_trade:
        raise TradingError(
            f"{account.label} is linked read-only: re-link it in trading mode (with its signing "
            "key) to trade from here."
        )
    refusal = trading_refusal(account.owner)
    if refusal is not None:
        raise TradingError(refusal)
    try:
        # Checked before anything is logged or sent, so the refusal is a plain sentence and not
        # a server error halfway through an action (decrypting takes microseconds).
        credentials_open(account)
    except crypto.DecryptionError as exc:
        raise TradingError(
            f"{account.label}'s stored credentials cannot be read: {exc} Re-link it, or restore "
            "the key it was stored under."
        ) from None
    return account


def _throttle(user_id: int) -> None:
    key = f"standx:trade-rate:{user_id}:{int(time.time() // 60)}"
    client = redis_client()
    count = client.incr(key)
    client.expire(key, 120)
    if int(count) > RATE_LIMIT:
        raise TradingError(
            f"More than {RATE_LIMIT} trading requests in a minute: wait a moment and try again."
        )


def plain_words(exc: venue_errors.VenueError) -> str:
    """The exchange's error as a sentence for the trader (the venue layer's one map)."""
    return venue_errors.plain_words(exc)


def _session(account: ExchangeAccount) -> AccountSession:
    venue = registry.account_adapter(account.venue)
    return venue.account(Endpoints(dict(account.endpoints)), credentials_open(account))


def _path(account: ExchangeAccount, action: str) -> str:
    with _session(account) as session:  # opening a session sends nothing
        return session.request_path(action)


def _begin(
    user_id: int,
    account: ExchangeAccount,
    action: str,
    endpoint: str,
    body: dict[str, Any],
    cl_ord_id: str = "",
) -> tuple[AuditEntry, bool]:
    """The audit entry, committed before sending; (entry, False) if this cl_ord_id was sent."""
    try:
        with transaction.atomic():
            entry = AuditEntry.objects.create(
                user_id=user_id,
                account=account,
                account_label=account.label,
                action=action,
                endpoint=endpoint,
                body=body,
                cl_ord_id=cl_ord_id,
                status=AuditStatus.SENDING,
                created_at=timezone.now(),
            )
        return entry, True
    except IntegrityError:
        return AuditEntry.objects.get(account=account, cl_ord_id=cl_ord_id), False


def _finish(entry: AuditEntry, status: str, result: str, **fields: Any) -> AuditEntry:
    """Record the outcome (its own transaction) and tell the user's pages."""
    entry.status = status
    entry.result = result[:300]
    entry.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(entry, name, value)
    with transaction.atomic():
        entry.save()
    _publish(entry)
    return entry


def _publish(entry: AuditEntry) -> None:
    realtime.publish_to_user(entry.user_id, {"type": "audit", "entry": audit_payload(entry)})


def audit_payload(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "action": entry.action,
        "cl_ord_id": entry.cl_ord_id,
        "status": entry.status,
        "status_text": entry.get_status_display(),
        "result": entry.result,
        "order_id": entry.exchange_order_id,
    }


R = TypeVar("R")


def _send(
    entry: AuditEntry, account: ExchangeAccount, call: Callable[[AccountSession], R]
) -> R | None:
    """Call the venue (outside any transaction); on an error, settle the entry in words."""
    try:
        with _session(account) as session:
            return call(session)
    except venue_errors.VenueError as exc:
        logger.info("%s for account %s failed: %s", entry.action, account.pk, type(exc).__name__)
        rejected = isinstance(exc, venue_errors.Rejected | venue_errors.NotFound)
        _finish(entry, AuditStatus.REJECTED if rejected else AuditStatus.FAILED, plain_words(exc))
        return None


# -- orders ---------------------------------------------------------------------------------


def _request(t: order_rules.Ticket, cl_ord_id: str) -> OrderRequest:
    return OrderRequest(
        symbol=t.symbol,
        side=t.side,
        order_type=t.order_type,
        qty=t.qty,
        client_order_id=cl_ord_id,
        price=t.price,
        time_in_force=t.time_in_force,
        reduce_only=t.reduce_only,
        post_only=t.post_only,
        tp_price=t.tp_price,
        sl_price=t.sl_price,
        leverage=t.leverage,
        margin_mode=t.margin_mode,
    )


def _body(request: OrderRequest) -> dict[str, Any]:
    """What the audit log shows of an order: its fields, Decimals as text, empty ones left out."""
    fields = {
        "symbol": request.symbol,
        "side": request.side,
        "order_type": request.order_type,
        "qty": request.qty,
        "time_in_force": request.time_in_force,
        "reduce_only": request.reduce_only,
        "cl_ord_id": request.client_order_id,
        "price": request.price,
        "tp_price": request.tp_price,
        "sl_price": request.sl_price,
        "leverage": request.leverage,
        "margin_mode": request.margin_mode,
    }
    return {
        k: str(v) if isinstance(v, Decimal) else v
        for k, v in fields.items()
        if v or k == "reduce_only"
    }


def order_submit(
    *,
    user_id: int,
    account_id: int,
    ticket: order_rules.Ticket,
    cl_ord_id: str,
    action: str = "new_order",
) -> AuditEntry:
    """Sign and send one order, at most once per ``cl_ord_id``; returns its audit entry with the
    outcome known so far (a later ``order_outcome`` call settles a "sent" one)."""
    account = trading_account(user_id, account_id)
    request = _request(ticket, cl_ord_id)
    path = _path(account, "place")
    entry, fresh = _begin(user_id, account, action, path, _body(request), cl_ord_id)
    if not fresh:
        return entry  # the same form submitted twice: one order
    _throttle(user_id)
    placed = _send(entry, account, lambda session: session.place(request))
    if placed is None:
        return entry
    entry.status, entry.request_id = AuditStatus.SENT, placed.request_id
    with transaction.atomic():
        entry.save(update_fields=["status", "request_id"])
    venue = registry.adapter(account.venue).name
    if placed.accepted is False:
        reason = placed.reason or "no reason given"
        return _finish(entry, AuditStatus.REJECTED, f"Rejected by {venue}: {reason}.")
    entry = order_outcome(entry.pk, matched=placed.accepted is True)
    if entry.status == AuditStatus.SENT:
        if placed.accepted:
            entry.result = f"Accepted by {venue}'s matching engine; waiting for its fill status."
            with transaction.atomic():
                entry.save(update_fields=["result"])
            _publish(entry)
        _follow(entry.pk)
    return entry


def _follow(entry_id: int) -> None:
    # After commit, so the task finds the entry; a broker that is down leaves it "sent" and
    # the orders page tells.
    queue_after_commit("portfolio.settle_order", entry_id)


def order_outcome(entry_id: int, *, tries: int | None = None, matched: bool = False) -> AuditEntry:
    """Look the order up by ``cl_ord_id`` until it is open, filled or rejected.

    ``matched``: the order stream already said the matching engine took it, so a resting limit
    order reading "open" is settled at the first look.
    """
    entry = AuditEntry.objects.select_related("account").get(pk=entry_id)
    if entry.status != AuditStatus.SENT or entry.account is None:
        return entry
    venue = registry.adapter(entry.account.venue).name
    for attempt in range(OUTCOME_TRIES if tries is None else tries):
        order = _look_up(entry)
        if order is not None:
            if order.status in FINAL:
                words = _order_words(order, venue)
                return _finish(
                    entry, FINAL[order.status], words, exchange_order_id=order.exchange_id
                )
            # A market or IOC order can read "open" for an instant before it fills: settle
            # "accepted" only on the second look, unless matching is known to be done.
            if order.status in ("open", "untriggered") and (
                attempt >= 1 or (matched and _rests(entry.body))
            ):
                return _finish(
                    entry,
                    AuditStatus.ACCEPTED,
                    _order_words(order, venue),
                    exchange_order_id=order.exchange_id,
                )
        time.sleep(OUTCOME_WAIT_S)
    return entry


def _look_up(entry: AuditEntry) -> AccountOrder | None:
    """The entry's order as the venue has it now (None: not found, or no answer)."""
    assert entry.account is not None
    try:
        with _session(entry.account) as session:
            return session.order_by_client_id(entry.cl_ord_id)
    except (venue_errors.VenueError, crypto.DecryptionError) as exc:
        logger.info("order outcome lookup failed: %s", type(exc).__name__)
        return None


def audit_settle_stale(*, now: Any = None) -> int:
    """Settle entries cut off while "sending" (a crash between the commit and the outcome).

    An order's entry is settled by asking the venue for its client order id: found, it takes the
    order's state; not found a minute later, it never arrived. Any other action's outcome cannot
    be looked up, so it is marked failed with a sentence telling the trader to check. Returns how
    many entries were settled.
    """
    cutoff = (now or timezone.now()) - STALE_SENDING
    settled = 0
    stale = AuditEntry.objects.filter(status=AuditStatus.SENDING, created_at__lt=cutoff)
    for entry_id in stale.values_list("pk", flat=True)[:200]:
        # Claim it: only one settler acts on an entry.
        claimed = AuditEntry.objects.filter(pk=entry_id, status=AuditStatus.SENDING).update(
            status=AuditStatus.SENT
        )
        if not claimed:
            continue
        entry = AuditEntry.objects.select_related("account").get(pk=entry_id)
        settled += 1
        if entry.account is None:
            _finish(entry, AuditStatus.FAILED, "The account was unlinked before this finished.")
            continue
        if not entry.cl_ord_id:
            _finish(
                entry,
                AuditStatus.FAILED,
                "Cut off before its answer came: check the orders and positions pages.",
            )
            continue
        order = _look_up(entry)
        venue = registry.adapter(entry.account.venue).name
        if order is None:
            _finish(entry, AuditStatus.FAILED, f"{venue} never received it: nothing was traded.")
        elif order.status in FINAL:
            words = _order_words(order, venue)
            _finish(entry, FINAL[order.status], words, exchange_order_id=order.exchange_id)
        else:
            words = _order_words(order, venue)
            _finish(entry, AuditStatus.ACCEPTED, words, exchange_order_id=order.exchange_id)
    return settled


def _rests(body: dict[str, Any]) -> bool:
    return body.get("order_type") == "limit" and body.get("time_in_force") != "ioc"


def _order_words(o: AccountOrder, venue: str) -> str:
    qty = f"{o.qty.normalize():f} {o.symbol}"
    if o.status == "filled":
        avg = f" at {o.fill_avg_price.normalize():f}" if o.fill_avg_price else ""
        return f"Filled: {o.side} {qty}{avg}."
    if o.status == "rejected":
        return f"Rejected by {venue}: {o.reason or 'no reason given'}."
    if o.status == "canceled":
        filled = f", {o.fill_qty.normalize():f} filled" if o.fill_qty else ""
        return f"Canceled{filled}."
    price = f" at {o.price.normalize():f}" if o.price else ""
    return f"Accepted: {o.side} {qty}{price}, resting on the book."


# -- one-click risk actions -----------------------------------------------------------------


def position_close(
    *, user_id: int, account_id: int, symbol: str, fraction: Decimal = Decimal(1)
) -> AuditEntry:
    """Reduce-only market order for ``fraction`` of the live position (1 closes it)."""
    account = trading_account(user_id, account_id)
    try:
        with _session(account) as session:
            held = [p for p in session.positions() if p.symbol == symbol and p.qty]
    except venue_errors.VenueError as exc:
        raise TradingError(plain_words(exc)) from None
    if not held:
        raise TradingError(f"There is no open {symbol} position on {account.label}.")
    position = held[0]
    rules = MarketSymbol.objects.filter(venue=account.venue, symbol=symbol).first()
    tick = Decimal(1).scaleb(-rules.qty_tick_decimals) if rules else Decimal("0.001")
    qty = (abs(position.qty) * fraction).quantize(tick, rounding=ROUND_DOWN)
    if qty <= 0:
        raise TradingError(f"{fraction:.0%} of the position is less than one {tick} step.")
    ticket = order_rules.Ticket(
        symbol=symbol,
        side="sell" if position.qty > 0 else "buy",
        order_type="market",
        qty=qty,
        time_in_force="ioc",
        reduce_only=True,
    )
    action = "close_position" if fraction >= 1 else f"reduce_{int(fraction * 100)}pct"
    return order_submit(
        user_id=user_id,
        account_id=account_id,
        ticket=ticket,
        cl_ord_id=new_cl_ord_id(),
        action=action,
    )


def order_cancel(*, user_id: int, account_id: int, order_id: str) -> AuditEntry:
    """Cancel one order by the venue's id (text: ``order_id`` comes from a URL)."""
    account = trading_account(user_id, account_id)
    if not order_id.isascii() or not order_id.isprintable() or len(order_id) > 64:
        raise TradingError(f"There is no order {order_id[:40]!r} on {account.label}.")
    path = _path(account, "cancel")
    entry, _ = _begin(user_id, account, "cancel_order", path, {"order_id": order_id})
    _throttle(user_id)
    request_id = _send(entry, account, lambda session: session.cancel(order_id))
    if request_id is None:
        return entry
    entry.request_id = request_id
    return _finish(entry, AuditStatus.DONE, f"Order {order_id} canceled.")


def orders_cancel_all(*, user_id: int, account_id: int) -> AuditEntry:
    """Cancel every open order the venue lists now (emulated: listed, then cancelled by id)."""
    account = trading_account(user_id, account_id)
    try:
        with _session(account) as session:
            ids = [o.exchange_id for o in session.open_orders()]
            path = session.request_path("cancel_many")
    except venue_errors.VenueError as exc:
        raise TradingError(plain_words(exc)) from None
    entry, _ = _begin(user_id, account, "cancel_all", path, {"order_id_list": ids})
    if not ids:
        return _finish(entry, AuditStatus.DONE, "There were no open orders to cancel.")
    _throttle(user_id)
    request_id = _send(entry, account, lambda session: session.cancel_many(ids))
    if request_id is None:
        return entry
    entry.request_id = request_id
    return _finish(
        entry, AuditStatus.DONE, f"{len(ids)} open order{'s' if len(ids) != 1 else ''} canceled."
    )


@dataclass(frozen=True)
class KillResult:
    cancel: AuditEntry
    closes: list[AuditEntry]
    problems: list[str]


def kill_switch(*, user_id: int, account_id: int) -> KillResult:
    """Cancel every open order, then close every position with reduce-only market orders."""
    account = trading_account(user_id, account_id)
    cancel = orders_cancel_all(user_id=user_id, account_id=account_id)
    try:
        with _session(account) as session:
            held = [p.symbol for p in session.positions() if p.qty]
    except venue_errors.VenueError as exc:
        return KillResult(cancel, [], [plain_words(exc)])
    closes, problems = [], []
    for symbol in held:
        try:
            closes.append(position_close(user_id=user_id, account_id=account_id, symbol=symbol))
        except TradingError as exc:
            problems.append(f"{symbol}: {exc}")
    return KillResult(cancel, closes, problems)


def _position_action(
    user_id: int,
    account_id: int,
    action: str,
    body: dict[str, Any],
    call: Callable[[AccountSession], str],
    done: str,
) -> AuditEntry:
    account = trading_account(user_id, account_id)
    venue_action = {"add_margin": "add_margin", "change_leverage": "set_leverage"}.get(
        action, "set_margin_mode"
    )
    entry, _ = _begin(user_id, account, action, _path(account, venue_action), body)
    _throttle(user_id)
    request_id = _send(entry, account, call)
    if request_id is None:
        return entry
    entry.request_id = request_id
    return _finish(entry, AuditStatus.DONE, done)


def margin_add(*, user_id: int, account_id: int, symbol: str, amount: Decimal) -> AuditEntry:
    """Move ``amount`` into the isolated margin of ``symbol``'s position."""
    return _position_action(
        user_id,
        account_id,
        "add_margin",
        {"symbol": symbol, "amount_in": str(amount)},
        lambda session: session.add_margin(symbol, amount),
        f"Added {amount.normalize():f} margin to {symbol}.",
    )


def leverage_change(*, user_id: int, account_id: int, symbol: str, leverage: int) -> AuditEntry:
    return _position_action(
        user_id,
        account_id,
        "change_leverage",
        {"symbol": symbol, "leverage": leverage},
        lambda session: session.set_leverage(symbol, leverage),
        f"{symbol} leverage set to {leverage}×.",
    )


def margin_mode_change(*, user_id: int, account_id: int, symbol: str, mode: str) -> AuditEntry:
    return _position_action(
        user_id,
        account_id,
        "change_margin_mode",
        {"symbol": symbol, "margin_mode": mode},
        lambda session: session.set_margin_mode(symbol, mode),
        f"{symbol} margin mode set to {mode}.",
    )


# -- inputs for validation and preview ------------------------------------------------------


def symbol_rules(venue: str, symbol: str) -> order_rules.SymbolRules | None:
    s = MarketSymbol.objects.filter(venue=venue, symbol=symbol, enabled=True).first()
    if s is None:
        return None
    return order_rules.SymbolRules(
        symbol=s.symbol,
        price_tick_decimals=s.price_tick_decimals,
        qty_tick_decimals=s.qty_tick_decimals,
        min_qty=s.min_order_qty,
        max_qty=s.max_order_qty,
        max_leverage=s.max_leverage,
        maker_fee=s.maker_fee,
        taker_fee=s.taker_fee,
        price_cap_ratio=s.price_cap_ratio,
        price_floor_ratio=s.price_floor_ratio,
        status=s.status,
    )


def order_mark(account: ExchangeAccount, symbol: str) -> Decimal | None:
    """The mark an order on ``account`` is checked and previewed against.

    The stored one while it is fresh (the price stream and the market sync keep every listed
    symbol's); else it is read now from the venue, where the account trades, and stored. A stale
    mark serves when the venue cannot answer; None only when there has never been one.
    """
    row = MarketPrice.objects.filter(venue=account.venue, symbol=symbol).first()
    if row is None:
        stored = None
    elif row.mark_price is not None and row.updated_at >= timezone.now() - MARK_FRESH:
        return row.mark_price
    else:
        stored = row.mark_price
    public = registry.adapter(account.venue).public(
        Endpoints(dict(account.endpoints)), timeout=5.0, retries=1
    )
    try:
        with public as session:
            read = session.mark(symbol)
    except venue_errors.VenueError as exc:
        logger.info("mark of %s for an order form: %s", symbol, type(exc).__name__)
        return stored
    if read.mark_price is None:
        return stored
    market.mark_store(
        account.venue,
        symbol,
        mark=read.mark_price,
        index=read.index_price,
        last=read.last_price,
        source="rest",
    )
    return read.mark_price
