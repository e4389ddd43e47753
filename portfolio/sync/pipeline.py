"""Keeping one linked account's data in Postgres (the write side of the sync pipeline).

:func:`account_sync` is idempotent: it claims a lease with a conditional UPDATE (a second
worker gets "busy"), reads everything through the account's venue adapter *before* opening a
transaction, then upserts on the exchange's unique ids in one transaction. Re-running it,
crashing half-way (the transaction rolls back, the lease expires) or racing another worker all
end with the same rows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from accounts import crypto
from accounts import services as account_services
from accounts.credentials import credentials_open
from accounts.models import AccountStatus, Credential, ExchangeAccount
from exchange_common.ratelimit import CountingLimiter, PrepaidLimiter, RateLimiter
from portfolio.alerts import batches as alert_batches
from portfolio.domain import risk
from portfolio.models import (
    BalanceBucket,
    BalanceSnapshot,
    Order,
    Position,
    PositionSnapshot,
    SyncState,
    Trade,
)
from portfolio.streams import leases as stream_leases
from portfolio.sync import cashflows, dispatch, funding
from standx_web.redis_client import redis_client
from venues import budget, registry
from venues import errors as venue_errors
from venues.account import (
    AccountBalance,
    AccountFill,
    AccountOrder,
    AccountPosition,
    AccountRead,
    ReadPlan,
)
from venues.base import Endpoints

logger = logging.getLogger(__name__)

STALE_AFTER_FAILURES = 3
MAX_FAILURE_BACKOFF_S = 300.0


class Outcome(StrEnum):
    SYNCED = "synced"
    BUSY = "busy"  # another worker holds the lease
    SKIPPED = "skipped"  # paused, unlinked or needs re-link
    NEEDS_RELINK = "needs_relink"
    FAILED = "failed"


class TransientSyncError(Exception):
    """The venue was unavailable, slow, rate-limiting or malformed; nothing stored was touched."""


# A full read of trade and order history at least this often, whatever the signals say.
FULL_SYNC_EVERY = timedelta(minutes=5)
# A flat account with no open orders is checked every minute on its balance, which moves with
# every fill, fee, funding payment and transfer and with every order left resting; the full
# read adds only orders placed and cancelled between two checks, so it can come less often.
IDLE_FULL_SYNC_EVERY = timedelta(minutes=30)


def shared_rate_limiter(venue: str, share: str = "sync") -> RateLimiter:
    """The venue's request budget, shared by every worker process through Redis: by default
    the sync's share of it (``venues.budget``; the rest is left to trading)."""
    if not budget.configured():
        budget.configure(redis_client)
    found = budget.shared(registry.adapter(venue), share)
    assert found is not None
    return found


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
SELECT {claimed}, {account},
    (SELECT coalesce(json_agg(json_build_array(c.id, c.kind, c.secret_encrypted, c.aad)), '[]')
     FROM "{credential_table}" c WHERE c.account_id = a.id)
FROM claimed JOIN "{account_table}" a ON a.id = claimed.account_id
"""
_STATE_LIST = ", ".join(f'"{f.column}"' for f in _STATE_FIELDS)
_CLAIMED_LIST = ", ".join(f'claimed."{f.column}"' for f in _STATE_FIELDS)
_ACCOUNT_LIST = ", ".join(f'a."{f.column}"' for f in _ACCOUNT_FIELDS)
_CLAIM_SQL = _CLAIM_TEMPLATE.format(
    state_table=_STATE_TABLE,
    account_table=ExchangeAccount._meta.db_table,
    credential_table=Credential._meta.db_table,
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
    *account_row, credential_rows = row[split:]
    values = [_from_column(f, v) for f, v in zip(_ACCOUNT_FIELDS, account_row, strict=True)]
    account = ExchangeAccount.from_db(
        connection.alias, [f.attname for f in _ACCOUNT_FIELDS], values
    )
    # Its credentials came in the same round trip (the sync opens them without a query).
    rows = json.loads(credential_rows) if isinstance(credential_rows, str) else credential_rows
    account.prefetched_credentials = [
        Credential(pk=pk, account_id=account.pk, kind=kind, secret_encrypted=secret, aad=aad)
        for pk, kind, secret, aad in rows
    ]
    state.account = account
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


def _full_due(state: SyncState, now: datetime) -> bool:
    every = IDLE_FULL_SYNC_EVERY if state.idle else FULL_SYNC_EVERY
    return (
        not state.backfill_done
        or state.last_full_sync_at is None
        or now - state.last_full_sync_at >= every
        or not state.balance_digest
    )


def _plan(account: ExchangeAccount, state: SyncState, now: datetime) -> ReadPlan:
    """What the adapter needs to know before it reads (read outside any transaction)."""
    full_due = _full_due(state, now)

    def held() -> Any:
        return Order.objects.filter(account=account, status__in=["open", "untriggered"])

    def held_open_orders() -> tuple[str, ...]:
        return tuple(held().order_by("created_at").values_list("exchange_id", flat=True))

    def held_orders() -> tuple[AccountOrder, ...]:
        return tuple(_order_record(o) for o in held().order_by("created_at"))

    return ReadPlan(
        full_due=full_due,
        idle=state.idle,
        balance_digest=state.balance_digest,
        activity_digest=state.activity_digest,
        shape_digest=state.shape_digest,
        order_cursor=state.order_cursor,
        fill_cursor=state.trade_cursor,
        held_open_orders=held_open_orders,
        held_orders=held_orders,
    )


# One map between the venue layer's order record and the stored row, read both ways.
_ORDER_FIELDS: tuple[tuple[str, str], ...] = (
    ("exchange_id", "exchange_id"),
    ("client_order_id", "cl_ord_id"),
    *(
        (name, name)
        for name in (
            "symbol",
            "side",
            "order_type",
            "status",
            "time_in_force",
            "qty",
            "price",
            "fill_qty",
            "fill_avg_price",
            "reduce_only",
            "leverage",
            "is_liquidation",
            "created_at",
            "updated_at",
        )
    ),
)


def _order_record(o: Order) -> AccountOrder:
    """A stored order as the venue layer's record (for adapters that settle held orders)."""
    return AccountOrder(**{record: getattr(o, column) for record, column in _ORDER_FIELDS})


def _order_row(account: ExchangeAccount, o: AccountOrder, now: datetime) -> Order:
    row = Order(account=account, **{column: getattr(o, record) for record, column in _ORDER_FIELDS})
    row.created_at = o.created_at or o.updated_at or now
    return row


ORDER_UPDATE_FIELDS = [
    "cl_ord_id",
    "status",
    "qty",
    "price",
    "fill_qty",
    "fill_avg_price",
    "leverage",
    "is_liquidation",
    "updated_at",
    "time_in_force",
]


def _trade_row(account: ExchangeAccount, t: AccountFill) -> Trade:
    return Trade(
        account=account,
        exchange_id=t.exchange_id,
        order_exchange_id=t.order_exchange_id,
        symbol=t.symbol,
        side=t.side,
        price=t.price,
        qty=t.qty,
        value=t.value,
        fee_asset=t.fee_asset,
        fee_qty=t.fee,
        pnl=t.realized_pnl,
        traded_at=t.traded_at,
    )


# Our column for each of the record's live fields (those that move with every mark); the
# rest of a position changes only through trading.
LIVE_COLUMNS = {
    "mark_price": "mark_price",
    "position_value": "notional",
    "upnl": "upnl",
    "realized_pnl": "realized_pnl",
    "leverage": "leverage",
    "initial_margin": "initial_margin",
    "holding_margin": "isolated_margin",
    "maint_margin": "maint_margin",
    "mmr": "health_reported",
    "liq_price": "liq_price",
    "liq_source": "liq_source",
    "bankruptcy_price": "bankruptcy_price",
}


def _position_values(p: AccountPosition, now: datetime) -> dict[str, Any]:
    live = {column: getattr(p, name) for column, name in LIVE_COLUMNS.items()}
    return {
        **live,
        "exchange_id": p.exchange_id,
        "qty": p.qty,
        "entry_price": p.entry_price,
        "margin_mode": p.margin_mode,
        "opened_at": p.opened_at,
        "synced_at": now,
    }


def _shape(p: Position | AccountPosition | None) -> tuple[Any, ...] | None:
    """What makes a position "change" for history and funding: size, entry, mode, margin."""
    if p is None:
        return None
    margin = p.holding_margin if isinstance(p, Position) else p.isolated_margin
    return (p.qty, p.entry_price, p.margin_mode, margin)


def _snapshot_if_changed(
    account: ExchangeAccount,
    symbol: str,
    before: Position | None,
    after: AccountPosition | None,
    now: datetime,
) -> None:
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
        holding_margin=after.isolated_margin if after else None,
        liq_price=after.liq_price if after else None,
        taken_at=now,
    )


_POSITION_FIELDS = {f.name: f for f in Position._meta.concrete_fields}
_LIVE_PREP = [
    (name, _POSITION_FIELDS[column].get_db_prep_save) for column, name in LIVE_COLUMNS.items()
]
# Every second for the accounts nearest liquidation: raw SQL, as for the lease (the ORM's
# update() cost more CPU than the rest of the write).
_LIVE_UPDATE_SQL = (
    f'UPDATE "{Position._meta.db_table}" SET '  # noqa: S608 - names from model metadata
    + ", ".join(f'"{_POSITION_FIELDS[n].column}" = %s' for n in ("synced_at", *LIVE_COLUMNS))
    + f' WHERE "{_POSITION_FIELDS["account"].column}" = %s'
    + f' AND "{_POSITION_FIELDS["symbol"].column}" = %s'
    + f' AND "{_POSITION_FIELDS["position_key"].column}" = %s'
)
# Accounts polled every second need no per-second equity curve.
BALANCE_EVERY = timedelta(seconds=10)


def _balance_fields(
    account: ExchangeAccount, read: AccountRead, state: SyncState, now: datetime, *, force: bool
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "idle": not read.positions and not read.open_orders,
        "balance_digest": read.balance_digest,
        "activity_digest": read.activity_digest,
        "shape_digest": read.shape_digest,
    }
    if force or state.last_balance_at is None or now - state.last_balance_at >= BALANCE_EVERY:
        balance_store(account, read.balance, now)
        fields["last_balance_at"] = now
    return fields


# --- the upserts: the one write path of the sync and of the account streams ---------------


def balance_store(account: ExchangeAccount, b: AccountBalance, now: datetime) -> None:
    """A balance reading (the equity curve's point)."""
    BalanceSnapshot.objects.create(
        account=account,
        taken_at=now,
        equity=b.equity,
        cash=b.cash,
        upnl=b.upnl,
        margin_used=b.margin_used,
        available=b.available,
        locked=b.locked,
        maint_margin=b.maint_margin,
        realized_24h=b.realized_24h,
        cross_balance=b.cross_balance,
        cross_upnl=b.cross_upnl,
        raw=dict(b.raw),
    )


def orders_upsert(account: ExchangeAccount, orders: Iterable[AccountOrder], now: datetime) -> None:
    """Orders on their exchange id: a later state of the same order replaces the stored one."""
    by_id = {o.exchange_id: o for o in orders}
    if by_id:
        Order.objects.bulk_create(
            [_order_row(account, o, now) for o in by_id.values()],
            update_conflicts=True,
            unique_fields=["account", "exchange_id"],
            update_fields=ORDER_UPDATE_FIELDS,
        )


def fills_insert(account: ExchangeAccount, fills: list[AccountFill]) -> None:
    """Fills on their exchange id: one already stored is left as it is (fills never change)."""
    if fills:
        Trade.objects.bulk_create([_trade_row(account, t) for t in fills], ignore_conflicts=True)


def position_store(
    account: ExchangeAccount,
    symbol: str,
    current: Position | None,
    incoming: AccountPosition | None,
    now: datetime,
    *,
    position_key: str = "",
) -> Position | None:
    """One position as the venue holds it now (None: closed), with its history point when its
    shape changed; returns the stored row (None once closed). ``current`` is the stored row,
    locked by the caller; ``position_key`` tells apart two positions in one market (OCX's
    isolated one beside the portfolio one)."""
    _snapshot_if_changed(account, symbol, current, incoming, now)
    if incoming is None:
        if current is not None:
            current.delete()
        return None
    stored, _ = Position.objects.update_or_create(
        account=account,
        symbol=symbol,
        position_key=position_key,
        defaults=_position_values(incoming, now),
    )
    return stored


def store_live(
    account: ExchangeAccount, read: AccountRead, state: SyncState, now: datetime
) -> dict[str, Any]:
    """Nothing traded since the last sync: refresh the positions' live numbers only."""
    with connection.cursor() as cursor:
        for p in read.positions:
            # Prepared as the ORM prepares them (Postgres rounds to the column's scale).
            live = [prep(getattr(p, name), connection) for name, prep in _LIVE_PREP]
            cursor.execute(_LIVE_UPDATE_SQL, [now, *live, account.pk, p.symbol, p.position_key])
    return _balance_fields(account, read, state, now, force=False)


def _store_buckets(account: ExchangeAccount, read: AccountRead, now: datetime) -> None:
    if not read.buckets:
        return
    BalanceBucket.objects.bulk_create(
        [
            BalanceBucket(
                account=account,
                bucket=b.bucket,
                asset=b.asset,
                available=b.available,
                locked=b.locked,
                total=b.total,
                usd_value=b.usd_value,
                updated_at=now,
            )
            for b in read.buckets
        ],
        update_conflicts=True,
        unique_fields=["account", "bucket", "asset"],
        update_fields=["available", "locked", "total", "usd_value", "updated_at"],
    )
    held = {(b.bucket, b.asset) for b in read.buckets}
    for row in BalanceBucket.objects.filter(account=account).only("bucket", "asset"):
        if (row.bucket, row.asset) not in held:
            row.delete()


def store(
    account: ExchangeAccount, read: AccountRead, state: SyncState, now: datetime
) -> dict[str, Any]:
    """Upsert a full read: orders, trades, positions (with history), balance, cursors.

    Runs inside the caller's transaction; returns the sync-state fields to save with the lease
    release, so rows and cursors commit together.
    """
    orders_upsert(account, [*read.new_orders, *read.open_orders, *read.refreshed_orders], now)
    fills_insert(account, read.new_fills)
    # A position is one per (symbol, position key): OCX's isolated one stands beside the
    # portfolio one in the same market.
    held = Position.objects.select_for_update().filter(account=account)
    current = {(p.symbol, p.position_key): p for p in held}
    incoming = {(p.symbol, p.position_key): p for p in read.positions}
    for symbol, key in current.keys() - incoming.keys():
        position_store(account, symbol, current[symbol, key], None, now, position_key=key)
    for (symbol, key), p in incoming.items():
        position_store(account, symbol, current.get((symbol, key)), p, now, position_key=key)
    _store_buckets(account, read, now)
    fields = _balance_fields(account, read, state, now, force=True)
    fields["last_full_sync_at"] = now
    fields["trade_cursor"] = read.fill_cursor
    fields["order_cursor"] = read.order_cursor
    if not state.backfill_done:
        fields["backfill_done"] = True
        fields["backfill_trades"] = state.backfill_trades + len(read.new_fills)
        fields["backfill_orders"] = state.backfill_orders + len(read.new_orders)
    return fields


def worst_health(read: AccountRead, risk_model: str = risk.COMPUTED) -> Decimal | None:
    """The account's lowest health multiple by the risk engine, the figure the alerts see (not
    a venue's own field, which other venues do not send)."""
    if not read.positions:
        return None
    account = risk.account_input(read.balance)
    positions = [risk.position_input(p, risk_model=risk_model) for p in read.positions if p.qty]
    health = risk.account_risk(account, positions).worst_health
    return health if health is not None and health > 0 else None


def poll_interval(read: AccountRead, risk_model: str = risk.COMPUTED) -> float:
    """Seconds until the next sync: the nearer to liquidation, the more often (1 s … 60 s).

    Driven by the neutral health of the risk engine, whatever the venue's own fields say."""
    worst = worst_health(read, risk_model)
    if worst is not None and worst < Decimal("1.5"):
        return 1.0
    if worst is not None and worst < Decimal(3):
        return 2.0
    if read.open_orders:
        return 3.0
    if read.positions:
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
    venue = registry.account_adapter(account.venue)
    plan = _plan(account, state, now)
    # One reservation for the calls the sync is sure to make: one Redis round trip, not three.
    certain = venue.planned_requests(full_due=plan.full_due, idle=plan.idle)
    prepaid = PrepaidLimiter(limiter or shared_rate_limiter(account.venue), certain)
    counter = CountingLimiter(prepaid)
    try:
        endpoints = Endpoints(dict(account.endpoints))
        with venue.account(endpoints, credentials_open(account), limiter=counter) as session:
            read = session.read(plan)
    except venue_errors.AuthExpired as exc:
        account_services.account_mark_needs_relink(
            account_id=account_id,
            reason=f"{venue.name} refused the credentials ({exc.message}); re-link.",
        )
        _release(account_id, token, last_error=str(exc)[:300])
        return Outcome.NEEDS_RELINK
    except venue_errors.VenueError as exc:
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
    interval = poll_interval(read, venue.capabilities.risk_model.value)
    # A quiet sync writes one row: no transaction needed around it.
    with transaction.atomic() if not read.quiet else contextlib.nullcontext():
        fields: dict[str, Any] = {}
        if read.full:
            fields = store(account, read, state, now)
            # Every fill up to `now` is stored, so funding up to `now` can be rebuilt exactly.
            funding.funding_rebuild(account, until=now)
        elif not read.quiet:
            fields = store_live(account, read, state, now)
        # A live sync whose activity fields (what fills, fees, funding and transfers move) are
        # as before has no flow to find; late fills are re-checked by the next full read.
        moved = read.full or fields.get("activity_digest") != state.activity_digest
        if "last_balance_at" in fields and moved:
            # A new balance reading: find the deposits and withdrawals in it. A full read also
            # re-checks the recent past, which fills read late may explain; between full reads
            # nothing but the newest interval can change (late funding is re-checked when its
            # rate arrives), which keeps the frequent live syncs cheap.
            if read.full:
                fills = [t.traded_at for t in read.new_fills]
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
    if not read.quiet:
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
    now: datetime, limit: int, *, request_budget: Mapping[str, int] | int | None = None
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


def due_account_ids(
    now: datetime, limit: int, *, request_budget: Mapping[str, int] | int | None = None
) -> list[int]:
    """Accounts due for a sync, riskiest (shortest interval) first; at most ``limit`` of each
    venue.

    With ``request_budget`` (per venue, or one figure for each venue), each venue's accounts
    stop once their expected REST calls would exceed its budget; the venue's riskiest account
    is always included (``dispatch.plan``). The expectation comes from the account's state, not
    its last sync (whose cost may have been the one-off backfill): the venue's
    ``planned_requests`` for a first (full) read, an idle one, or one with positions or orders.
    """
    syncable = ExchangeAccount.objects.filter(sync_enabled=True, status=AccountStatus.VERIFIED)
    missing = syncable.filter(sync_state__isnull=True)
    SyncState.objects.bulk_create(
        [SyncState(account=a, next_due_at=now) for a in missing], ignore_conflicts=True
    )
    riskiest = [F("interval_s").asc(), F("next_due_at").asc(), F("account_id").asc()]
    due = (
        SyncState.objects.filter(account__in=syncable, next_due_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        # A live account stream keeps these fresh: REST only reconciles them, now and then.
        .exclude(stream_leases.streamed(now))
        # Each venue's own riskiest accounts: a crowd on one venue cannot fill the limit.
        .annotate(rank=Window(RowNumber(), partition_by=[F("account__venue")], order_by=riskiest))
        .filter(rank__lte=limit)
        .order_by(*riskiest)
        .values_list("account_id", "account__venue", "backfill_done", "idle", "interval_s")
    )
    candidates = [
        dispatch.Candidate(
            account_id, venue, _planned_cost(venue, backfill_done=done, idle=idle), interval
        )
        for account_id, venue, done, idle, interval in due
    ]
    return dispatch.plan(candidates, request_budget)


def _planned_cost(venue: str, *, backfill_done: bool, idle: bool) -> int:
    adapter = registry.account_adapter(venue)
    if not backfill_done:
        return adapter.planned_requests(full_due=True, idle=False)
    return adapter.planned_requests(full_due=False, idle=idle)
