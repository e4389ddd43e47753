"""Write side of trading from the dashboard: signed requests to StandX, each with its audit entry.

Every action checks that the account is the user's and linked for trading, throttles the user,
writes an :class:`AuditEntry` *before* anything is sent, then signs and sends. An order's
``cl_ord_id`` is claimed by the audit log's unique index, so a double click or a retried form
finds the first entry instead of sending again.

StandX acknowledges a POST before matching it. The outcome of an order comes first from the order
response stream: the POST carries ``x-session-id`` of a ``/ws-api/v1`` session opened for it, and
the matching engine's verdict ("success", or a rejection such as "alo order rejected") is pushed
there. ``query_order`` by ``cl_ord_id`` then tells filled from resting; it is also the fallback
when the stream cannot be opened or says nothing in time, and a Celery task keeps following an
order the request could not settle.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

import redis
import websockets
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from websockets.asyncio.client import ClientConnection, connect

from accounts import crypto
from accounts.models import StandXAccount
from accounts.standx_access import client_for, credentials_for, venue_endpoints_for
from portfolio import realtime
from portfolio.domain import order_rules
from portfolio.jobs import queue_after_commit
from portfolio.market import store as market
from portfolio.models import AuditEntry, AuditStatus, MarketPrice, MarketSymbol
from standx import errors as standx_errors
from standx import models as sx
from standx.rest import StandXClient
from standx.stream import OrderResponse, OrderResponseStream
from venues import errors as venue_errors
from venues import registry
from venues import standx as standx_venue

logger = logging.getLogger(__name__)

RATE_LIMIT = 30  # signed requests per user per minute
OUTCOME_TRIES = 6
OUTCOME_WAIT_S = 0.25
STREAM_WAIT_S = 3.0  # how long the request waits for the order stream's verdict
STREAM_CONNECT_S = 2.0  # at most this long opening and logging in before the order goes anyway
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


def trading_account(user_id: int, account_id: int) -> StandXAccount:
    account = StandXAccount.objects.filter(pk=account_id, owner_id=user_id).first()
    if account is None:
        raise TradingError("No such account.")
    if not account.can_trade:
        raise TradingError(
            f"{account.label} is linked read-only: re-link it in trading mode (with its signing "
            "key) to trade from here."
        )
    try:
        # Checked before anything is logged or sent, so the refusal is a plain sentence and not
        # a server error halfway through an action (decrypting takes microseconds).
        credentials_for(account)
    except crypto.DecryptionError as exc:
        raise TradingError(
            f"{account.label}'s stored credentials cannot be read: {exc} Re-link it, or restore "
            "the key it was stored under."
        ) from None
    return account


_redis: redis.Redis | None = None


def _throttle(user_id: int) -> None:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL)
    key = f"standx:trade-rate:{user_id}:{int(time.time() // 60)}"
    count = _redis.incr(key)
    _redis.expire(key, 120)
    if int(count) > RATE_LIMIT:
        raise TradingError(
            f"More than {RATE_LIMIT} trading requests in a minute: wait a moment and try again."
        )


def plain_words(exc: standx_errors.StandXError) -> str:
    """The exchange's error as a sentence for the trader (the venue layer's one map)."""
    return venue_errors.plain_words(standx_venue.translate(exc))


def _begin(
    user_id: int, account: StandXAccount, action: str, endpoint: str, body: dict[str, Any],
    cl_ord_id: str = "",
) -> tuple[AuditEntry, bool]:  # fmt: skip
    """The audit entry, written before sending; (entry, False) if this cl_ord_id was sent."""
    try:
        with transaction.atomic():
            entry = AuditEntry.objects.create(
                user_id=user_id, account=account, account_label=account.label, action=action,
                endpoint=endpoint, body=body, cl_ord_id=cl_ord_id, status=AuditStatus.SENDING,
                created_at=timezone.now(),
            )  # fmt: skip
        return entry, True
    except IntegrityError:
        return AuditEntry.objects.get(account=account, cl_ord_id=cl_ord_id), False


def _finish(entry: AuditEntry, status: str, result: str, **fields: Any) -> AuditEntry:
    entry.status = status
    entry.result = result[:300]
    entry.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(entry, name, value)
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


T = TypeVar("T", sx.ActionResult, "_Posted")


def _send(
    entry: AuditEntry, account: StandXAccount, call: Callable[[StandXClient], T],
    session_id: str | None = None,
) -> T | None:  # fmt: skip
    try:
        with client_for(account, session_id=session_id) as client:
            ack = call(client)
    except standx_errors.StandXError as exc:
        logger.info("%s for account %s failed: %s", entry.action, account.pk, type(exc).__name__)
        rejected = isinstance(exc, standx_errors.BadRequestError)
        _finish(entry, AuditStatus.REJECTED if rejected else AuditStatus.FAILED, plain_words(exc))
        return None
    entry.request_id = ack.request_id or ""
    return ack


# -- the order response stream --------------------------------------------------------------


@dataclass(frozen=True)
class _Posted:
    """A POSTed order's acknowledgement and the order stream's verdict, if it came in time."""

    ack: sx.ActionResult
    verdict: OrderResponse | None

    @property
    def request_id(self) -> str | None:
        return self.ack.request_id


async def _connect_briefly(url: str) -> ClientConnection:
    return await connect(url, open_timeout=STREAM_WAIT_S, ping_interval=None, max_size=2**20)


async def _post_on_session(client: StandXClient, ws_api_url: str, body: dict[str, Any]) -> _Posted:
    """Open a ws-api session, POST the order with its ``x-session-id``, await the verdict.

    A session that cannot be opened is not an error: the order goes without ``x-session-id``
    and its outcome is read back by ``query_order``.
    """
    assert client.credentials is not None
    assert client.session_id is not None
    stream = OrderResponseStream(
        ws_api_url, client.credentials, session_id=client.session_id,
        connector=_connect_briefly, timeout=STREAM_WAIT_S,
    )  # fmt: skip
    try:
        async with asyncio.timeout(STREAM_CONNECT_S):
            await stream.connect()
        listening = True
    except (standx_errors.StandXError, OSError, TimeoutError, websockets.WebSocketException) as e:
        logger.info("order stream unavailable (%s); falling back to query_order", type(e).__name__)
        await stream.close()
        listening, client.session_id = False, None
    try:
        # The signed POST is sync httpx; a thread keeps the stream's reader running meanwhile.
        ack = await asyncio.to_thread(lambda: client.new_order(**body))
        verdict = await _verdict(stream, ack.request_id) if listening else None
    finally:
        await stream.close()
    return _Posted(ack, verdict)


async def _verdict(stream: OrderResponseStream, request_id: str | None) -> OrderResponse | None:
    """The session's final answer about this request (interim "accepted" pushes are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_WAIT_S
    while (remaining := deadline - loop.time()) > 0:
        try:
            pushed = await stream.next_pushed(remaining)
        except TimeoutError:
            return None
        if pushed.status == "accepted":
            continue
        # The session is this order's alone; a push naming another request is not its verdict.
        if pushed.request_id is None or request_id is None or pushed.request_id == request_id:
            return pushed
    return None


def _post_order(entry: AuditEntry, account: StandXAccount, body: dict[str, Any]) -> _Posted | None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # called from async code: no nested loop, so no stream; query_order will tell
        ack = _send(entry, account, lambda c: c.new_order(**body))
        return None if ack is None else _Posted(ack, None)
    return _send(
        entry, account, lambda c: asyncio.run(_post_on_session(c, account.ws_api_url, body)),
        session_id=str(uuid.uuid4()),
    )  # fmt: skip


# -- orders ---------------------------------------------------------------------------------


def order_submit(
    *, user_id: int, account_id: int, ticket: order_rules.Ticket, cl_ord_id: str,
    action: str = "new_order",
) -> AuditEntry:  # fmt: skip
    """Sign and send one order, at most once per ``cl_ord_id``; returns its audit entry with the
    outcome known so far (a later ``order_outcome`` call settles a "sent" one)."""
    account = trading_account(user_id, account_id)
    body = _order_body(ticket, cl_ord_id)
    entry, fresh = _begin(user_id, account, action, "/api/new_order", body, cl_ord_id)
    if not fresh:
        return entry  # the same form submitted twice: one order
    _throttle(user_id)
    posted = _post_order(entry, account, body)
    if posted is None:
        return entry
    entry.status = AuditStatus.SENT
    entry.save(update_fields=["status", "request_id"])
    verdict = posted.verdict
    if verdict is not None and not verdict.ok:
        reason = verdict.message.strip().rstrip(".") or "no reason given"
        return _finish(entry, AuditStatus.REJECTED, f"Rejected by StandX: {reason}.")
    entry = order_outcome(entry.pk, matched=verdict is not None)
    if entry.status == AuditStatus.SENT:
        if verdict is not None:
            entry.result = "Accepted by StandX's matching engine; waiting for its fill status."
            entry.save(update_fields=["result"])
            _publish(entry)
        _follow(entry.pk)
    return entry


def _follow(entry_id: int) -> None:
    # After commit, so the task finds the entry; a broker that is down leaves it "sent" and
    # the orders page tells.
    queue_after_commit("portfolio.settle_order", entry_id)


def _order_body(t: order_rules.Ticket, cl_ord_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": t.symbol, "side": t.side, "order_type": t.order_type, "qty": str(t.qty),
        "time_in_force": t.time_in_force, "reduce_only": t.reduce_only, "cl_ord_id": cl_ord_id,
    }  # fmt: skip
    optional = {
        "price": t.price, "tp_price": t.tp_price, "sl_price": t.sl_price,
        "leverage": t.leverage, "margin_mode": t.margin_mode,
    }  # fmt: skip
    body.update({k: str(v) if isinstance(v, Decimal) else v for k, v in optional.items() if v})
    return body


def order_outcome(entry_id: int, *, tries: int | None = None, matched: bool = False) -> AuditEntry:
    """Look the order up by ``cl_ord_id`` until it is open, filled or rejected.

    ``matched``: the order stream already said the matching engine took it, so a resting limit
    order reading "open" is settled at the first look.
    """
    entry = AuditEntry.objects.select_related("account").get(pk=entry_id)
    if entry.status != AuditStatus.SENT or entry.account is None:
        return entry
    for attempt in range(OUTCOME_TRIES if tries is None else tries):
        try:
            with client_for(entry.account) as client:
                order = client.query_order(cl_ord_id=entry.cl_ord_id)
        except standx_errors.NotFoundError:
            order = None
        except standx_errors.StandXError as exc:
            logger.info("order outcome lookup failed: %s", type(exc).__name__)
            order = None
        if order is not None:
            if order.status in FINAL:
                words = _order_words(order)
                return _finish(entry, FINAL[order.status], words, exchange_order_id=order.id)
            # A market or IOC order can read "open" for an instant before it fills: settle
            # "accepted" only on the second look, unless matching is known to be done.
            if order.status in ("open", "untriggered") and (
                attempt >= 1 or (matched and _rests(entry.body))
            ):
                return _finish(
                    entry, AuditStatus.ACCEPTED, _order_words(order), exchange_order_id=order.id
                )
        time.sleep(OUTCOME_WAIT_S)
    return entry


def _rests(body: dict[str, Any]) -> bool:
    return body.get("order_type") == "limit" and body.get("time_in_force") != "ioc"


def _order_words(o: sx.Order) -> str:
    qty = f"{o.qty.normalize():f} {o.symbol}"
    if o.status == "filled":
        avg = f" at {o.fill_avg_price.normalize():f}" if o.fill_avg_price else ""
        return f"Filled: {o.side} {qty}{avg}."
    if o.status == "rejected":
        return f"Rejected by StandX: {o.remark or 'no reason given'}."
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
    with client_for(account) as client:
        try:
            held = [p for p in client.query_positions(symbol=symbol) if p.qty]
        except standx_errors.StandXError as exc:
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
        symbol=symbol, side="sell" if position.qty > 0 else "buy", order_type="market", qty=qty,
        time_in_force="ioc", reduce_only=True,
    )  # fmt: skip
    action = "close_position" if fraction >= 1 else f"reduce_{int(fraction * 100)}pct"
    return order_submit(
        user_id=user_id, account_id=account_id, ticket=ticket, cl_ord_id=new_cl_ord_id(),
        action=action,
    )  # fmt: skip


def order_cancel(*, user_id: int, account_id: int, order_id: int) -> AuditEntry:
    account = trading_account(user_id, account_id)
    entry, _ = _begin(user_id, account, "cancel_order", "/api/cancel_order", {"order_id": order_id})
    _throttle(user_id)
    if _send(entry, account, lambda c: c.cancel_order(order_id=order_id)) is None:
        return entry
    return _finish(entry, AuditStatus.DONE, f"Order {order_id} canceled.")


def orders_cancel_all(*, user_id: int, account_id: int) -> AuditEntry:
    account = trading_account(user_id, account_id)
    with client_for(account) as client:
        try:
            ids = [o.id for o in client.query_open_orders().result]
        except standx_errors.StandXError as exc:
            raise TradingError(plain_words(exc)) from None
    entry, _ = _begin(user_id, account, "cancel_all", "/api/cancel_orders", {"order_id_list": ids})
    if not ids:
        return _finish(entry, AuditStatus.DONE, "There were no open orders to cancel.")
    _throttle(user_id)
    if _send(entry, account, lambda c: c.cancel_orders(order_ids=ids)) is None:
        return entry
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
    with client_for(account) as client:
        try:
            held = [p.symbol for p in client.query_positions() if p.qty]
        except standx_errors.StandXError as exc:
            return KillResult(cancel, [], [plain_words(exc)])
    closes, problems = [], []
    for symbol in held:
        try:
            closes.append(position_close(user_id=user_id, account_id=account_id, symbol=symbol))
        except TradingError as exc:
            problems.append(f"{symbol}: {exc}")
    return KillResult(cancel, closes, problems)


def _position_action(
    user_id: int, account_id: int, action: str, endpoint: str, body: dict[str, Any],
    call: Callable[[StandXClient], sx.ActionResult], done: str,
) -> AuditEntry:  # fmt: skip
    account = trading_account(user_id, account_id)
    entry, _ = _begin(user_id, account, action, endpoint, body)
    _throttle(user_id)
    if _send(entry, account, call) is None:
        return entry
    return _finish(entry, AuditStatus.DONE, done)


def margin_add(*, user_id: int, account_id: int, symbol: str, amount: Decimal) -> AuditEntry:
    """Move ``amount`` into the isolated margin of ``symbol``'s position."""
    return _position_action(
        user_id, account_id, "add_margin", "/api/transfer_margin",
        {"symbol": symbol, "amount_in": str(amount)},
        lambda c: c.transfer_margin(symbol=symbol, amount_in=amount),
        f"Added {amount.normalize():f} margin to {symbol}.",
    )  # fmt: skip


def leverage_change(*, user_id: int, account_id: int, symbol: str, leverage: int) -> AuditEntry:
    return _position_action(
        user_id, account_id, "change_leverage", "/api/change_leverage",
        {"symbol": symbol, "leverage": leverage},
        lambda c: c.change_leverage(symbol=symbol, leverage=leverage),
        f"{symbol} leverage set to {leverage}×.",
    )  # fmt: skip


def margin_mode_change(*, user_id: int, account_id: int, symbol: str, mode: str) -> AuditEntry:
    return _position_action(
        user_id, account_id, "change_margin_mode", "/api/change_margin_mode",
        {"symbol": symbol, "margin_mode": mode},
        lambda c: c.change_margin_mode(symbol=symbol, margin_mode=mode),
        f"{symbol} margin mode set to {mode}.",
    )  # fmt: skip


# -- inputs for validation and preview ------------------------------------------------------


def symbol_rules(venue: str, symbol: str) -> order_rules.SymbolRules | None:
    s = MarketSymbol.objects.filter(venue=venue, symbol=symbol, enabled=True).first()
    if s is None:
        return None
    return order_rules.SymbolRules(
        symbol=s.symbol, price_tick_decimals=s.price_tick_decimals,
        qty_tick_decimals=s.qty_tick_decimals, min_qty=s.min_order_qty, max_qty=s.max_order_qty,
        max_leverage=s.max_leverage, maker_fee=s.maker_fee, taker_fee=s.taker_fee,
        price_cap_ratio=s.price_cap_ratio, price_floor_ratio=s.price_floor_ratio,
        status=s.status,
    )  # fmt: skip


def order_mark(account: StandXAccount, symbol: str) -> Decimal | None:
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
        venue_endpoints_for(account), timeout=5.0, retries=1
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
