"""Keeping one linked account's StandX data in Postgres (the write side of the sync pipeline).

:func:`account_sync` is idempotent: it claims a lease with a conditional UPDATE (a second
worker gets "busy"), reads everything from StandX *before* opening a transaction, then upserts on
the exchange's unique ids in one transaction. Re-running it, crashing half-way (the transaction
rolls back, the lease expires) or racing another worker all end with the same rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from accounts import crypto
from accounts import services as account_services
from accounts.models import AccountStatus, ExchangeAccount
from accounts.standx_access import client_for
from portfolio.alerts import batches as alert_batches
from portfolio.domain import risk
from portfolio.models import BalanceSnapshot, Order, Position, PositionSnapshot, SyncState, Trade
from portfolio.sync import cashflows, funding
from standx import errors as standx_errors
from standx import models as sx
from standx.ratelimit import CountingLimiter, PrepaidLimiter, RateLimiter, RedisRateLimiter
from standx.rest import StandXClient

logger = logging.getLogger(__name__)

STALE_AFTER_FAILURES = 3
MAX_FAILURE_BACKOFF_S = 300.0
ORDER_REFRESH_LIMIT = 50  # formerly open orders re-queried per sync, at most


class Outcome(StrEnum):
    SYNCED = "synced"
    BUSY = "busy"  # another worker holds the lease
    SKIPPED = "skipped"  # paused, unlinked or needs re-link
    NEEDS_RELINK = "needs_relink"
    FAILED = "failed"


class TransientSyncError(Exception):
    """StandX was unavailable, slow, rate-limiting or malformed; nothing stored was touched."""


@dataclass
class Fetched:
    positions: list[sx.Position]
    balance: sx.Balance
    open_orders: list[sx.Order]
    new_orders: list[sx.Order]
    new_trades: list[sx.Trade]
    refreshed_orders: list[sx.Order] = field(default_factory=list)
    # quiet: a flat account whose balance did not move; nothing else was read or needs writing.
    quiet: bool = False
    # full: the trade and order history was read (else nothing indicated new activity).
    full: bool = True


# A full read of trade and order history at least this often, whatever the signals say.
FULL_SYNC_EVERY = timedelta(minutes=5)
# A flat account with no open orders is checked every minute on its balance, which moves with
# every fill, fee, funding payment and transfer and with every order left resting; the full
# read adds only orders placed and cancelled between two checks, so it can come less often.
IDLE_FULL_SYNC_EVERY = timedelta(minutes=30)
# Balance fields that move only when something happened (fills, fees, funding, orders placed);
# uPnL-derived fields move with every mark.
ACTIVITY_FIELDS = ("cross_balance", "isolated_balance", "locked", "cross_margin", "pnl_freeze")


_limiter: RateLimiter | None = None


def shared_rate_limiter() -> RateLimiter:
    """StandX's per-account and per-IP budget, shared by every worker process through Redis."""
    global _limiter
    if _limiter is None:
        _limiter = RedisRateLimiter(redis.Redis.from_url(settings.REDIS_URL))
    return _limiter


def sync_state_for(account: ExchangeAccount) -> SyncState:
    state, _ = SyncState.objects.get_or_create(
        account=account, defaults={"next_due_at": timezone.now()}
    )
    return state


# The hot path in raw SQL: building these three statements through the ORM cost more CPU than
# the rest of a quiet sync. Column names come from the models' metadata, never from input.
_STATE_FIELDS = list(SyncState._meta.concrete_fields)
_ACCOUNT_FIELDS = list(ExchangeAccount._meta.concrete_fields)
_STATE_COLUMNS = {f.name: f.column for f in _STATE_FIELDS}
_STATE_TABLE = SyncState._meta.db_table
_CLAIM_TEMPLATE = """
WITH claimed AS (
    UPDATE "{state_table}"
    SET lease_until = %(until)s, lease_token = %(token)s, last_attempt_at = %(now)s
    WHERE account_id = %(id)s AND (lease_until IS NULL OR lease_until < %(now)s)
    RETURNING {state}
)
SELECT {claimed}, {account}
FROM claimed JOIN "{account_table}" a ON a.id = claimed.account_id
"""
_STATE_LIST = ", ".join(f'"{f.column}"' for f in _STATE_FIELDS)
_CLAIMED_LIST = ", ".join(f'claimed."{f.column}"' for f in _STATE_FIELDS)
_ACCOUNT_LIST = ", ".join(f'a."{f.column}"' for f in _ACCOUNT_FIELDS)
_CLAIM_SQL = _CLAIM_TEMPLATE.format(
    state_table=_STATE_TABLE,
    account_table=ExchangeAccount._meta.db_table,
    state=_STATE_LIST,
    claimed=_CLAIMED_LIST,
    account=_ACCOUNT_LIST,
)


def claim_and_load(account_id: int, token: str, now: datetime) -> SyncState | None:
    """Claim the lease and load the state with its account in one round trip (None: taken)."""
    until = now + timedelta(seconds=settings.SYNC_LEASE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, {"until": until, "token": token, "now": now, "id": account_id})
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_STATE_FIELDS)
    state = SyncState.from_db(connection.alias, [f.attname for f in _STATE_FIELDS], row[:split])
    account_values = [_from_column(f, v) for f, v in zip(_ACCOUNT_FIELDS, row[split:], strict=True)]
    state.account = ExchangeAccount.from_db(
        connection.alias, [f.attname for f in _ACCOUNT_FIELDS], account_values
    )
    return state


def _from_column(field: Any, value: Any) -> Any:
    """What the ORM would load (a raw cursor leaves JSON as text, for one)."""
    for convert in field.get_db_converters(connection):
        value = convert(value, field, connection)
    return value


def _release(account_id: int, token: str, **fields: Any) -> None:
    """Save ``fields`` and give the lease back, if it is still ours."""
    columns = {_STATE_COLUMNS[name]: value for name, value in fields.items()}
    assignments = "".join(f', "{column}" = %s' for column in columns)
    sql = (
        f'UPDATE "{_STATE_TABLE}" SET "lease_until" = NULL, "lease_token" = \'\'{assignments} '  # noqa: S608 - names from model metadata
        'WHERE "account_id" = %s AND "lease_token" = %s'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*columns.values(), account_id, token])


def _take_newer(items: Any, cursor: int | None) -> list[Any]:
    """Items from a newest-first iterator until the stored cursor is reached."""
    out = []
    for item in items:
        if cursor is not None and item.id <= cursor:
            break
        out.append(item)
    return out


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def balance_digest(balance: sx.Balance, names: tuple[str, ...]) -> str:
    return _digest([_num(getattr(balance, n)) for n in names])


def shape_digest(positions: list[sx.Position], open_orders: list[sx.Order]) -> str:
    """What changes only through trading: each position's size, entry and mode; open order ids."""
    shapes = sorted(
        f"{p.symbol}:{_num(p.qty)}:{_num(p.entry_price)}:{p.margin_mode}" for p in positions
    )
    return _digest([*shapes, *sorted(str(o.id) for o in open_orders)])


def _full_due(state: SyncState, now: datetime) -> bool:
    every = IDLE_FULL_SYNC_EVERY if state.idle else FULL_SYNC_EVERY
    return (
        not state.backfill_done
        or state.last_full_sync_at is None
        or now - state.last_full_sync_at >= every
        or not state.balance_digest
    )


def certain_requests(state: SyncState, now: datetime) -> int:
    """The REST calls :func:`fetch` is sure to make: the balance alone for a flat account on
    the quiet path; positions, balance and open orders otherwise; plus the first page of orders
    and of trades when a full read is due. Later pages and order lookups depend on what those
    say, so they are not counted."""
    if _full_due(state, now):
        return 5
    return 1 if state.idle else 3


def fetch(
    client: StandXClient, account: ExchangeAccount, state: SyncState, now: datetime
) -> Fetched:
    """Everything one sync needs, read from StandX (no database writes).

    Tiered to spend StandX's per-IP budget where it matters: a flat account with no open orders
    costs one balance call while its balance stands still; an account with positions costs three
    calls, plus its trade and order history only when something moved (or every 5 minutes;
    30 for a flat account).
    """
    full_due = _full_due(state, now)
    balance = None
    if not full_due and state.idle:
        balance = client.query_balance()
        if balance_digest(balance, sx.BALANCE_FIELDS) == state.balance_digest:
            return Fetched([], balance, [], [], [], quiet=True, full=False)
    positions = client.query_positions()
    balance = balance or client.query_balance()
    open_orders = list(client.query_open_orders(limit=1200).result)
    moved = (
        full_due
        or shape_digest(positions, open_orders) != state.shape_digest
        or balance_digest(balance, ACTIVITY_FIELDS) != state.activity_digest
    )
    if not moved:
        return Fetched(positions, balance, open_orders, [], [], full=False)
    new_orders = _take_newer(client.iter_orders(), _cursor_id(state.order_cursor))
    new_trades = _take_newer(client.iter_trades(), _cursor_id(state.trade_cursor))
    fetched = Fetched(positions, balance, open_orders, new_orders, new_trades)
    # Orders we hold as open that StandX no longer lists as open have ended: learn how.
    seen = {str(o.id) for o in open_orders} | {str(o.id) for o in new_orders}
    gone = (
        Order.objects.filter(account=account, status__in=["open", "untriggered"])
        .exclude(exchange_id__in=seen)
        .values_list("exchange_id", flat=True)[:ORDER_REFRESH_LIMIT]
    )
    for exchange_id in gone:
        try:
            fetched.refreshed_orders.append(client.query_order(order_id=int(exchange_id)))
        except standx_errors.NotFoundError:
            continue
    return fetched


def _cursor_id(cursor: str) -> int | None:
    """StandX's cursor: the highest id stored (ids grow); everything at or below is known."""
    return int(cursor) if cursor else None


def _order_row(account: ExchangeAccount, o: sx.Order) -> Order:
    return Order(
        account=account, exchange_id=str(o.id), cl_ord_id=o.cl_ord_id or "", symbol=o.symbol,
        side=o.side, order_type=o.order_type, status=o.status,
        time_in_force=o.time_in_force or "", qty=o.qty, price=o.price, fill_qty=o.fill_qty,
        fill_avg_price=o.fill_avg_price, reduce_only=o.reduce_only, leverage=o.leverage,
        liq_id=o.liq_id, created_at=o.created_at or o.updated_at or timezone.now(),
        updated_at=o.updated_at,
    )  # fmt: skip


ORDER_UPDATE_FIELDS = [
    "cl_ord_id", "status", "qty", "price", "fill_qty", "fill_avg_price", "leverage", "liq_id",
    "updated_at", "time_in_force",
]  # fmt: skip


def _trade_row(account: ExchangeAccount, t: sx.Trade) -> Trade:
    return Trade(
        account=account, exchange_id=str(t.id), order_exchange_id=str(t.order_id),
        symbol=t.symbol,
        side=t.side, price=t.price, qty=t.qty, value=t.value, fee_asset=t.fee_asset or "",
        fee_qty=t.fee_qty, pnl=t.pnl, traded_at=t.created_at,
    )  # fmt: skip


POSITION_FIELDS = (
    "exchange_id", "qty", "entry_price", "mark_price", "position_value", "upnl", "realized_pnl",
    "leverage", "margin_mode", "initial_margin", "holding_margin", "maint_margin", "mmr",
    "liq_price", "bankruptcy_price",
)  # fmt: skip


def _position_values(p: sx.Position, now: datetime) -> dict[str, Any]:
    values = {name: getattr(p, name) for name in POSITION_FIELDS if name != "exchange_id"}
    return {**values, "exchange_id": str(p.id), "opened_at": p.created_at, "synced_at": now}


def _shape(p: Position | sx.Position | None) -> tuple[Any, ...] | None:
    """What makes a position "change" for history and funding: size, entry, mode, margin."""
    return None if p is None else (p.qty, p.entry_price, p.margin_mode, p.holding_margin)


def _snapshot_if_changed(
    account: ExchangeAccount, symbol: str, before: Position | None, after: sx.Position | None,
    now: datetime,
) -> None:  # fmt: skip
    if _shape(before) == _shape(after):
        return
    source = after or before
    assert source is not None
    PositionSnapshot.objects.create(
        account=account,
        symbol=symbol,
        qty=after.qty if after else Decimal(0),  # a closed position is recorded as size 0
        entry_price=source.entry_price,
        margin_mode=source.margin_mode,
        holding_margin=after.holding_margin if after else None,
        liq_price=after.liq_price if after else None,
        taken_at=now,
    )


# Live fields that move with every mark; the rest of a position changes only through trading.
LIVE_FIELDS = (
    "mark_price", "position_value", "upnl", "realized_pnl", "leverage", "initial_margin",
    "holding_margin", "maint_margin", "mmr", "liq_price", "bankruptcy_price",
)  # fmt: skip
_POSITION_FIELDS = {f.name: f for f in Position._meta.concrete_fields}
_LIVE_PREP = [(n, _POSITION_FIELDS[n].get_db_prep_save) for n in LIVE_FIELDS]
# Every second for the accounts nearest liquidation: raw SQL, as for the lease (the ORM's
# update() cost more CPU than the rest of the write).
_LIVE_UPDATE_SQL = (
    f'UPDATE "{Position._meta.db_table}" SET '  # noqa: S608 - names from model metadata
    + ", ".join(f'"{_POSITION_FIELDS[n].column}" = %s' for n in ("synced_at", *LIVE_FIELDS))
    + f' WHERE "{_POSITION_FIELDS["account"].column}" = %s'
    + f' AND "{_POSITION_FIELDS["symbol"].column}" = %s'
)
# Accounts polled every second need no per-second equity curve.
BALANCE_EVERY = timedelta(seconds=10)


def _balance_fields(
    account: ExchangeAccount, fetched: Fetched, state: SyncState, now: datetime, *, force: bool
) -> dict[str, Any]:
    b = fetched.balance
    fields: dict[str, Any] = {
        "idle": not fetched.positions and not fetched.open_orders,
        "balance_digest": balance_digest(b, sx.BALANCE_FIELDS),
        "activity_digest": balance_digest(b, ACTIVITY_FIELDS),
        "shape_digest": shape_digest(fetched.positions, fetched.open_orders),
    }
    if force or state.last_balance_at is None or now - state.last_balance_at >= BALANCE_EVERY:
        BalanceSnapshot.objects.create(
            account=account, taken_at=now, **{n: getattr(b, n) for n in sx.BALANCE_FIELDS}
        )
        fields["last_balance_at"] = now
    return fields


def store_live(
    account: ExchangeAccount, fetched: Fetched, state: SyncState, now: datetime
) -> dict[str, Any]:
    """Nothing traded since the last sync: refresh the positions' live numbers only."""
    with connection.cursor() as cursor:
        for p in fetched.positions:
            # Prepared as the ORM prepares them (Postgres rounds to the column's scale).
            live = [prep(getattr(p, name), connection) for name, prep in _LIVE_PREP]
            cursor.execute(_LIVE_UPDATE_SQL, [now, *live, account.pk, p.symbol])
    return _balance_fields(account, fetched, state, now, force=False)


def store(
    account: ExchangeAccount, fetched: Fetched, state: SyncState, now: datetime
) -> dict[str, Any]:
    """Upsert a full read: orders, trades, positions (with history), balance, cursors.

    Runs inside the caller's transaction; returns the sync-state fields to save with the lease
    release, so rows and cursors commit together.
    """
    orders = {
        o.id: o for o in [*fetched.new_orders, *fetched.open_orders, *fetched.refreshed_orders]
    }
    if orders:
        Order.objects.bulk_create(
            [_order_row(account, o) for o in orders.values()],
            update_conflicts=True,
            unique_fields=["account", "exchange_id"],
            update_fields=ORDER_UPDATE_FIELDS,
        )
    if fetched.new_trades:
        Trade.objects.bulk_create(
            [_trade_row(account, t) for t in fetched.new_trades], ignore_conflicts=True
        )
    current = {p.symbol: p for p in Position.objects.select_for_update().filter(account=account)}
    incoming = {p.symbol: p for p in fetched.positions}
    for symbol in current.keys() - incoming.keys():
        _snapshot_if_changed(account, symbol, current[symbol], None, now)
        current[symbol].delete()
    for symbol, p in incoming.items():
        _snapshot_if_changed(account, symbol, current.get(symbol), p, now)
        Position.objects.update_or_create(
            account=account, symbol=symbol, defaults=_position_values(p, now)
        )
    fields = _balance_fields(account, fetched, state, now, force=True)
    fields["last_full_sync_at"] = now
    if fetched.new_trades:
        newest = max(_cursor_id(state.trade_cursor) or 0, *(t.id for t in fetched.new_trades))
        fields["trade_cursor"] = str(newest)
    if fetched.new_orders:
        newest = max(_cursor_id(state.order_cursor) or 0, *(o.id for o in fetched.new_orders))
        fields["order_cursor"] = str(newest)
    if not state.backfill_done:
        fields["backfill_done"] = True
        fields["backfill_trades"] = state.backfill_trades + len(fetched.new_trades)
        fields["backfill_orders"] = state.backfill_orders + len(fetched.new_orders)
    return fields


def worst_health(fetched: Fetched) -> Decimal | None:
    """The account's lowest health multiple by the risk engine, the figure the alerts see (not
    a venue's own field, which other venues do not send)."""
    if not fetched.positions:
        return None
    b = fetched.balance
    account = risk.AccountInput(cross_balance=b.cross_balance, cross_available=b.cross_available)
    positions = [risk.position_input(p) for p in fetched.positions if p.qty]
    health = risk.account_risk(account, positions).worst_health
    return health if health is not None and health > 0 else None


def poll_interval(fetched: Fetched) -> float:
    """Seconds until the next sync: the nearer to liquidation, the more often (1 s … 60 s)."""
    worst = worst_health(fetched)
    if worst is not None and worst < Decimal("1.5"):
        return 1.0
    if worst is not None and worst < Decimal(3):
        return 2.0
    if fetched.open_orders:
        return 3.0
    if fetched.positions:
        return 10.0
    return 60.0


def _failure_backoff(failures: int) -> float:
    return float(min(MAX_FAILURE_BACKOFF_S, 2 ** max(0, failures - 1) * 2))


def _release_failed(
    account_id: int, token: str, state: SyncState, counter: CountingLimiter, error: str
) -> None:
    """Release the lease after a failed sync: the error, one more failure, the backoff."""
    failures = state.consecutive_failures + 1
    _release(
        account_id,
        token,
        last_requests=min(counter.granted, 32767),
        last_error=error[:300],
        consecutive_failures=failures,
        stale=failures >= STALE_AFTER_FAILURES,
        next_due_at=timezone.now() + timedelta(seconds=_failure_backoff(failures)),
    )


def account_sync(account_id: int, *, limiter: RateLimiter | None = None) -> Outcome:
    """One sync of one account. Raises :class:`TransientSyncError` after recording the failure
    (the task retries it); a 401 marks the account "needs re-link" and stops its polling."""
    now = timezone.now()
    token = uuid.uuid4().hex
    state = claim_and_load(account_id, token, now)
    if state is None:
        found = ExchangeAccount.objects.filter(pk=account_id).first()
        if found is None:
            return Outcome.SKIPPED
        if SyncState.objects.filter(pk=account_id).exists():
            return Outcome.BUSY
        sync_state_for(found)  # first sync of a new account
        state = claim_and_load(account_id, token, now)
        if state is None:
            return Outcome.BUSY
    account = state.account
    if (
        not account.sync_enabled
        or not account.has_credentials
        or account.status == AccountStatus.NEEDS_RELINK
    ):
        _release(account_id, token, next_due_at=now + timedelta(seconds=60))
        return Outcome.SKIPPED
    # One reservation for the calls the sync is sure to make: one Redis round trip, not three.
    prepaid = PrepaidLimiter(limiter or shared_rate_limiter(), certain_requests(state, now))
    counter = CountingLimiter(prepaid)
    try:
        with client_for(account, rate_limiter=counter) as client:
            fetched = fetch(client, account, state, now)
    except standx_errors.AuthenticationError as exc:
        account_services.account_mark_needs_relink(
            account_id=account_id, reason=f"StandX refused the token ({exc.message}); re-link."
        )
        _release(account_id, token, last_error=str(exc)[:300])
        return Outcome.NEEDS_RELINK
    except standx_errors.StandXError as exc:
        _release_failed(account_id, token, state, counter, f"{type(exc).__name__}: {exc}")
        if exc.transient:
            raise TransientSyncError(str(exc)) from None
        return Outcome.FAILED
    except crypto.DecryptionError as exc:
        # CREDENTIAL_KEYS lost the key these were stored under (or the row was altered): no
        # request can be made. Not "needs re-link": restoring the key heals the account at its
        # next attempt, with the failure backoff meanwhile.
        _release_failed(account_id, token, state, counter, f"Credentials unreadable: {exc}")
        return Outcome.FAILED
    interval = poll_interval(fetched)
    # A quiet sync writes one row: no transaction needed around it.
    with transaction.atomic() if not fetched.quiet else contextlib.nullcontext():
        fields: dict[str, Any] = {}
        if fetched.full:
            fields = store(account, fetched, state, now)
            # Every fill up to `now` is stored, so funding up to `now` can be rebuilt exactly.
            funding.funding_rebuild(account, until=now)
        elif not fetched.quiet:
            fields = store_live(account, fetched, state, now)
        # A live sync whose activity fields (what fills, fees, funding and transfers move) are
        # as before has no flow to find; late fills are re-checked by the next full read.
        moved = fetched.full or fields.get("activity_digest") != state.activity_digest
        if "last_balance_at" in fields and moved:
            # A new balance reading: find the deposits and withdrawals in it. A full read also
            # re-checks the recent past, which fills read late may explain; between full reads
            # nothing but the newest interval can change (late funding is re-checked when its
            # rate arrives), which keeps the frequent live syncs cheap.
            if fetched.full:
                fills = [t.created_at for t in fetched.new_trades]
                since = min([now - cashflows.RECONCILE_WINDOW, *fills])
            else:
                since = state.last_balance_at or now
            cashflows.reconcile(account, since)
        # Rows, cursors and the lease release commit together.
        _release(
            account_id,
            token,
            last_requests=min(counter.granted, 32767),
            last_success_at=now,
            last_error="",
            consecutive_failures=0,
            stale=False,
            interval_s=interval,
            next_due_at=now + timedelta(seconds=interval),
            **fields,
        )
    if not fetched.quiet:
        _evaluate_alerts(account_id)
    return Outcome.SYNCED


def _evaluate_alerts(account_id: int) -> None:
    # A quiet sync changed nothing the rules read (marks move through the price stream and
    # data age through the sweep), so only syncs that stored something evaluate, in batches.
    try:
        alert_batches.alerts_evaluate_soon(account_id)
    except Exception:  # the data is stored; an alert bug must not turn into a failed sync
        logger.exception("could not queue the alert evaluation of account %s", account_id)


URGENT_INTERVAL_S = 2.0


def due_accounts(
    now: datetime, limit: int, *, request_budget: int | None = None
) -> list[tuple[int, bool]]:
    """``(account id, urgent)`` for the due accounts; urgent ones are polled every ≤2 s and go
    to their own queue, so a backlog of quiet accounts never delays them."""
    ids = due_account_ids(now, limit, request_budget=request_budget)
    urgent = set(
        SyncState.objects.filter(account_id__in=ids, interval_s__lte=URGENT_INTERVAL_S).values_list(
            "account_id", flat=True
        )
    )
    return [(account_id, account_id in urgent) for account_id in ids]


def due_account_ids(now: datetime, limit: int, *, request_budget: int | None = None) -> list[int]:
    """Accounts due for a sync, riskiest (shortest interval) first.

    With ``request_budget``, stop once the expected REST calls would exceed it; the riskiest
    account is always included. The expectation comes from the account's state, not its last
    sync (whose cost may have been the one-off backfill): first sync 5, idle 1, otherwise 3.
    """
    syncable = ExchangeAccount.objects.filter(sync_enabled=True, status=AccountStatus.VERIFIED)
    missing = syncable.filter(sync_state__isnull=True)
    SyncState.objects.bulk_create(
        [SyncState(account=a, next_due_at=now) for a in missing], ignore_conflicts=True
    )
    due = (
        SyncState.objects.filter(account__in=syncable, next_due_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("interval_s", "next_due_at")
        .annotate(
            cost=Case(
                When(backfill_done=False, then=Value(5)),
                When(idle=True, then=Value(1)),
                default=Value(3),
            )
        )
        .values_list("account_id", "cost")[:limit]
    )
    picked: list[int] = []
    spent = 0
    for account_id, cost in due:
        if request_budget is not None and picked and spent + cost > request_budget:
            break
        picked.append(account_id)
        spent += cost
    return picked
