"""JSON shapes of the engine's state, field for field as the StandX docs show them.

Read-only: nothing here changes the engine. Decimals are emitted as strings (`money.fmt`);
amounts produced by divisions are cut to 9 decimals (`money.cut`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from standx_sim.clock import iso
from standx_sim.errors import ApiError
from standx_sim.money import ZERO, cut, fmt, fmt_opt, to_tick
from standx_sim.symbols import SYMBOLS

if TYPE_CHECKING:
    from standx_sim.engine import Account, Bucket, Engine, Order, Position


def order_view(order: Order) -> dict[str, Any]:
    """`query_order` shape."""
    spec = SYMBOLS[order.symbol]
    avg = to_tick(order.fill_value / order.fill_qty, spec.price_tick) if order.fill_qty else ZERO
    return {
        "avail_locked": fmt(order.avail_locked),
        "cl_ord_id": order.cl_ord_id,
        "closed_block": -1,
        "created_at": iso(order.created_at),
        "created_block": -1,
        "fill_avg_price": fmt(avg),
        "fill_qty": fmt(to_tick(order.fill_qty, spec.qty_tick)),
        "id": order.id,
        "leverage": str(order.leverage),
        "liq_id": order.liq_id,
        "margin": fmt(order.margin),
        "order_type": order.order_type,
        "payload": None,
        "position_id": order.position_id,
        "price": fmt(to_tick(order.price, spec.price_tick)),
        "qty": fmt(to_tick(order.qty, spec.qty_tick)),
        "reduce_only": order.reduce_only,
        "remark": order.remark,
        "side": order.side,
        "source": order.source,
        "status": order.status,
        "symbol": order.symbol,
        "time_in_force": order.time_in_force,
        "updated_at": iso(order.updated_at),
        "user": order.user,
    }


def trade_view(trade: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in trade.items() if not k.startswith("_")}


def position_view(
    engine: Engine, account: Account, position: Position, bucket: Bucket | None = None
) -> dict[str, Any]:
    """`query_positions` item shape."""
    spec = SYMBOLS[position.symbol]
    f = engine.position_figures(account, position, bucket)
    return {
        "bankruptcy_price": fmt_opt(f["bankruptcy_price"]),
        "created_at": iso(position.created_at),
        "entry_price": fmt(f["entry_price"] or ZERO),
        "entry_value": fmt(cut(f["entry_value"] or ZERO)),
        "holding_margin": fmt(cut(f["holding_margin"] or ZERO)),
        "id": position.id,
        "initial_margin": fmt(cut(f["initial_margin"] or ZERO)),
        "leverage": str(position.leverage),
        "liq_price": fmt_opt(f["liq_price"]),
        "maint_margin": fmt(cut(f["maint_margin"] or ZERO)),
        "margin_asset": "DUSD",
        "margin_mode": position.margin_mode,
        "mark_price": fmt(f["mark_price"] or ZERO),
        "mmr": fmt_opt(f["mmr"]),
        "position_value": fmt(f["position_value"] or ZERO),
        "qty": fmt(to_tick(position.qty, spec.qty_tick)),
        "realized_pnl": fmt(position.realized_pnl),
        "status": position.status,
        "symbol": position.symbol,
        "time": iso(engine.clock()),
        "updated_at": iso(position.updated_at),
        "upnl": fmt(cut(f["upnl"] or ZERO)),
        "user": position.user,
    }


def positions_view(engine: Engine, account: Account, symbol: str | None) -> list[dict[str, Any]]:
    bucket = engine.bucket(account)
    return [
        position_view(engine, account, p, bucket)
        for p in account.positions.values()
        if p.opened and (symbol is None or p.symbol == symbol)
    ]


def position_stream_view(position: Position) -> dict[str, Any]:
    """WS `position` channel shape: no mark, upnl, liq or mmr (docs)."""
    spec = SYMBOLS[position.symbol]
    qty = position.qty
    entry_price = to_tick(position.entry_value / abs(qty), spec.price_tick) if qty else ZERO
    return {
        "created_at": iso(position.created_at),
        "entry_price": fmt(entry_price),
        "entry_value": fmt(cut(position.entry_value)),
        "id": position.id,
        "initial_margin": fmt(cut(position.entry_value / position.leverage)),
        "leverage": str(position.leverage),
        "margin_asset": "DUSD",
        "margin_mode": position.margin_mode,
        "qty": fmt(to_tick(qty, spec.qty_tick)),
        "realized_pnl": fmt(position.realized_pnl),
        "status": position.status,
        "symbol": position.symbol,
        "updated_at": iso(position.updated_at),
        "user": position.user,
    }


def balance_view(engine: Engine, account: Account) -> dict[str, str]:
    """`query_balance` shape (every field a decimal string)."""
    if not account.funded:
        raise ApiError(404, "user balance not found")
    return {k: fmt(cut(v)) for k, v in engine.balance(account).items()}


def wallet_view(engine: Engine, account: Account) -> dict[str, Any]:
    """The WS `balance` channel's raw wallet record (not the REST snapshot)."""
    figures = engine.balance(account)
    total = figures["balance"]
    occupied = figures["cross_margin"] + figures["isolated_balance"]
    created = iso(account.created_at)
    return {
        "account_type": "perps",
        "created_at": created,
        "free": fmt(cut(total - occupied - figures["locked"])),
        "id": account.user,
        "inbound": "0",
        "is_enabled": True,
        "kind": "user",
        "last_tx": "",
        "last_tx_updated_at": 0,
        "locked": fmt(cut(figures["locked"])),
        "occupied": fmt(cut(occupied)),
        "outbound": "0",
        "ref_id": 0,
        "token": "DUSD",
        "total": fmt(cut(total)),
        "updated_at": iso(account.updated_at or account.created_at),
        "version": account.version,
        "wallet_id": account.user,
    }


def open_interest(engine: Engine, symbol: str) -> Decimal:
    spec = SYMBOLS[symbol]
    longs = sum(
        (
            a.positions[symbol].qty
            for a in engine.accounts.values()
            if symbol in a.positions and a.positions[symbol].qty > 0
        ),
        ZERO,
    )
    return spec.synthetic_open_interest + longs


def ledger(engine: Engine, account: Account) -> dict[str, Any]:
    return {
        "address": account.address,
        "user": account.user,
        "chain": account.chain,
        "orders": [order_view(o) for o in account.orders.values()],
        "trades": [trade_view(t) for t in account.trades],
        "funding": [{k: v for k, v in f.items() if not k.startswith("_")} for f in account.funding],
        "balance_changes": list(account.changes),
        "balance": {k: fmt(cut(v)) for k, v in engine.balance(account).items()}
        if account.funded
        else None,
    }


def depth_view(engine: Engine, symbol: str) -> dict[str, Any]:
    """`query_depth_book` / WS `depth_book` shape: synthetic levels plus resting user orders."""
    market = engine.markets[symbol]
    asks = {lv.price: lv.qty for lv in market.asks}
    bids = {lv.price: lv.qty for lv in market.bids}
    for order in engine.resting[symbol].values():
        side = bids if order.side == "buy" else asks
        side[order.price] = side.get(order.price, ZERO) + order.remaining
    return {
        "asks": [[fmt(p), fmt(q)] for p, q in asks.items()],
        "bids": [[fmt(p), fmt(q)] for p, q in bids.items()],
        "symbol": symbol,
    }
