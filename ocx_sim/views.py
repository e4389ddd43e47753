"""JSON shapes of the engine's records, camelCase with decimal strings, as the reference gives
them where it does; where it does not (positions, ``/perps/balances``, ``/portfolio/*``), the
shapes assumed in ``shared/docs/venues.md`` §3.1.5."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ocx_sim.auth import key_status
from ocx_sim.clock import iso
from ocx_sim.ledger import BUCKETS
from ocx_sim.money import ZERO, fmt, fmt_opt, usdc

AVG_EXP = Decimal("1e-8")

if TYPE_CHECKING:
    from ocx_sim.accounts import Account, ApiKey, Fill, Order, Position, Settlement
    from ocx_sim.engine import Engine, Placed, Preview
    from ocx_sim.markets import Market


def market_view(engine: Engine, market: Market) -> dict[str, Any]:
    out = {
        "id": market.market_id,
        "symbol": market.market_id,
        "marketType": market.market_type,
        "baseSymbol": market.base,
        "quoteSymbol": "USDC",
        "markPrice": fmt(engine.book.mark(market, engine.now())),
        "priceDecimals": market.price_decimals,
        "sizeDecimals": market.size_decimals,
        "indexMarketId": market.index_market_id,
    }
    if market.expiry is not None:
        out["expiresAt"] = iso(market.expiry)  # assumed: the reference shows only a perp
    return out


def order_view(order: Order) -> dict[str, Any]:
    avg = (order.filled_value / order.filled).quantize(AVG_EXP) if order.filled else None
    return {
        "id": order.id,
        "clientOrderId": order.client_order_id,
        "marketId": order.market_id,
        "side": order.side,
        "type": order.order_type,
        "price": fmt_opt(order.price),
        "quantity": fmt(order.quantity),
        "filledQuantity": fmt(order.filled),
        "avgFillPrice": fmt_opt(avg),
        "timeInForce": order.time_in_force,
        "postOnly": order.post_only,
        "reduceOnly": order.reduce_only,
        "marginMode": order.margin_mode,
        "stopPrice": fmt_opt(order.stop_price),
        "takeProfitPrice": fmt_opt(order.take_profit_price),
        "stopLossPrice": fmt_opt(order.stop_loss_price),
        "quoteId": order.quote_id,
        "status": order.status,
        "reason": order.reason,
        "createdAt": iso(order.created_at),
        "updatedAt": iso(order.updated_at),
    }


def fill_view(fill: Fill) -> dict[str, Any]:
    return {
        "id": fill.id,
        "orderId": fill.order_id,
        "clientOrderId": fill.client_order_id,
        "marketId": fill.market_id,
        "side": fill.side,
        "price": fmt(fill.price),
        "quantity": fmt(fill.quantity),
        "fee": fmt(fill.fee),
        "feeAsset": "USDC",
        "liquidity": fill.liquidity,
        "realizedPnl": fmt(fill.realized_pnl),
        "createdAt": iso(fill.created_at),
    }


def position_view(engine: Engine, account: Account, position: Position) -> dict[str, Any]:
    mark = engine.mark(position.market_id)
    notional = abs(position.qty) * mark
    equity = engine.figures(account)["equity"]
    liq = engine.liquidation_price(account, position) if position.qty else None
    return {
        **position_stream_view(position),
        "size": fmt(position.qty),
        "markPrice": fmt(mark),
        "notional": fmt(usdc(notional)),
        "unrealizedPnl": fmt(usdc(engine.upnl(position))),
        "liquidationPrice": fmt_opt(liq),
        "leverage": fmt(usdc(notional / equity)) if equity > 0 else None,
    }


def position_stream_view(position: Position) -> dict[str, Any]:
    """What the user stream carries for a position (no mark-dependent fields)."""
    return {
        "id": position.id,
        "marketId": position.market_id,
        "side": "buy" if position.qty >= 0 else "sell",
        "quantity": fmt(abs(position.qty)),
        "entryPrice": fmt(position.entry_price),
        "realizedPnl": fmt(position.realized_pnl),
        "marginMode": position.margin_mode,
        "status": position.status,
        "createdAt": iso(position.created_at),
        "updatedAt": iso(position.updated_at),
    }


def placed_view(engine: Engine, account: Account, placed: Placed) -> dict[str, Any]:
    position = placed.position
    return {
        **order_view(placed.order),
        "fills": [fill_view(f) for f in placed.fills],
        "position": None
        if position is None or not position.qty
        else position_view(engine, account, position),
    }


def preview_view(p: Preview) -> dict[str, Any]:
    out = {
        "marketId": p.market_id,
        "side": p.side,
        "quantity": fmt(p.quantity),
        "price": fmt(p.price),
        "notional": fmt(p.notional),
        "marginRequired": fmt(p.margin_required),
        "estFee": fmt(p.est_fee),
        "feeBps": fmt(p.fee_bps),
        "feeRole": p.fee_role,
        "user30dVolume": fmt(p.user_30d_volume),
        "availableMargin": fmt(p.available),
        "approved": p.approved,
    }
    if p.reason is not None:
        out["reason"] = p.reason
    return out


def perps_balance_view(engine: Engine, account: Account) -> dict[str, Any]:
    f = engine.figures(account)
    return {
        "asset": "USDC",
        "balance": fmt(f["balance"]),
        "equity": fmt(usdc(f["equity"])),
        "unrealizedPnl": fmt(usdc(f["unrealizedPnl"])),
        "initialMargin": fmt(usdc(f["initialMargin"])),
        "maintenanceMargin": fmt(usdc(f["maintenanceMargin"])),
        "available": fmt(usdc(f["available"])),
    }


def bucket_balances(engine: Engine, account: Account) -> dict[str, str]:
    return {f"{b}Balance": fmt(engine.bucket(account, b)) for b in BUCKETS}


def wallet_balance_view(engine: Engine, account: Account) -> dict[str, str]:
    pending = sum(
        (
            s.amount
            for s in account.settlements.values()
            if s.kind == "withdraw" and s.status in ("pending", "processing")
        ),
        ZERO,
    )
    return {
        "onchainDepositTotal": fmt(account.onchain_deposits),
        "walletBalance": fmt(engine.bucket(account, "wallet")),
        "perpsBalance": fmt(engine.bucket(account, "perps")),
        "optionsBalance": fmt(engine.bucket(account, "options")),
        "pendingWithdrawalTotal": fmt(pending),
    }


def assets_view(engine: Engine, account: Account) -> list[dict[str, str]]:
    out = []
    for bucket in BUCKETS:
        total = engine.bucket(account, bucket)
        locked = ZERO
        if bucket == "perps":
            locked = min(max(total, ZERO), usdc(engine.figures(account)["initialMargin"]))
        out.append(
            {
                "asset": "USDC",
                "bucket": bucket,
                "available": fmt(total - locked),
                "locked": fmt(locked),
                "total": fmt(total),
            }
        )
    return out


def history_view(engine: Engine, account: Account) -> list[dict[str, Any]]:
    """The user's legs of the ledger, newest first, one entry per bucket touched."""
    out = []
    for posting in reversed(engine.ledger.of_user(account.user_id)):
        for leg, amount in posting.legs:
            owner, _, bucket = leg.partition(":")
            if owner != account.user_id:
                continue
            out.append(
                {
                    "id": f"{posting.id}-{bucket}",
                    "type": posting.kind,
                    "bucket": bucket,
                    "amount": fmt(amount),
                    "ref": posting.ref,
                    "txHash": None,
                    "createdAt": iso(posting.time),
                }
            )
    return out


def settlement_view(s: Settlement) -> dict[str, Any]:
    return {
        "id": s.id,
        "kind": s.kind,
        "amount": fmt(s.amount),
        "status": s.status,
        "txHash": s.tx_hash,
        "createdAt": iso(s.created_at),
        "updatedAt": iso(s.updated_at),
    }


def key_view(key: ApiKey, now: datetime) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "scope": key.scope,
        "allowedIps": list(key.allowed_ips),
        "expiresAt": None if key.expires_at is None else iso(key.expires_at),
        "createdAt": iso(key.created_at),
        "lastUsedAt": None if key.last_used_at is None else iso(key.last_used_at),
        "status": key_status(key, now),
    }


def portfolio_balances_view(engine: Engine, account: Account) -> dict[str, Any]:
    f = engine.figures(account)
    buckets = {b: fmt(engine.bucket(account, b)) for b in BUCKETS}
    total = sum((engine.bucket(account, b) for b in BUCKETS), ZERO) + f["unrealizedPnl"]
    return {
        "asset": "USDC",
        "buckets": buckets,
        "perpsEquity": fmt(usdc(f["equity"])),
        "unrealizedPnl": fmt(usdc(f["unrealizedPnl"])),
        "totalEquity": fmt(usdc(total)),
    }


def ledger_view(engine: Engine, account: Account) -> dict[str, Any]:
    """``GET /sim/ledger``: everything recorded for one account, for reconciliation tests."""
    uid = account.user_id
    return {
        "address": account.address,
        "userId": uid,
        "buckets": {b: fmt(engine.bucket(account, b)) for b in BUCKETS},
        "ledgerBuckets": {b: fmt(engine.ledger.recomputed(f"{uid}:{b}")) for b in BUCKETS},
        "postings": [p.json() for p in engine.ledger.of_user(uid)],
        "orders": [order_view(o) for o in account.orders.values()],
        "fills": [fill_view(f) for f in account.fills],
        "positions": [
            position_stream_view(p)
            for p in [*account.positions.values(), *account.closed_positions]
        ],
        "liquidations": account.liquidations,
        "withdrawCalls": account.withdraw_calls,
        "withdrawFlagged": bool(account.withdraw_calls),
    }
