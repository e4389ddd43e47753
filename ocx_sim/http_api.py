"""OCX's HTTP API: the public market data, SIWE, API keys, perps and futures trading, account
reads, the wallet and the private streams.

Every endpoint names an auth tier (public; ``session``: a signed-in session only; ``account``:
a session or an API key of at least the given scope) and whether it is on the order path. A
request passes, in order: injected faults, authentication, the order-path rate limit, then the
handler. Sessions come as ``Authorization: Bearer <jwt>`` or the ``astra_session`` cookie;
keys as ``x-api-key``. Which endpoints accept a key follows docs.ocx.global: the high-
throughput trading paths (preview, cancel-all, bulk quotes) with a ``trade`` key, and the
account and wallet reads with any key (the overview's "read: market data and account reads").

Pagination (an assumption; the reference gives ``limit`` only): ``GET /perps/trades`` and
``GET /perps/orders`` list newest first; ``limit`` defaults to 100 (at most 500) and ``before``
(an id) is an exclusive upper bound, so the next page starts before the last id seen.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ocx_sim import stream, views
from ocx_sim.accounts import Account
from ocx_sim.auth import COOKIE, SESSION_LIFETIME, Principal
from ocx_sim.clock import epoch_ms, iso
from ocx_sim.engine import FEE_TIERS
from ocx_sim.errors import ApiError, bad_request
from ocx_sim.ledger import INSURANCE
from ocx_sim.markets import Market
from ocx_sim.money import ZERO, fmt, usdc
from ocx_sim.state import Sim

log = logging.getLogger("ocx_sim")
RESOLUTIONS = {"1": 60, "5": 300, "15": 900, "30": 1800, "60": 3600, "240": 14400, "D": 86400}
MAX_RANGE_S = 90 * 86400


@dataclass
class Ctx:
    sim: Sim
    request: Request
    body: Any
    principal: Principal | None

    @property
    def account(self) -> Account:
        assert self.principal is not None
        return self.principal.account

    @property
    def query(self) -> Any:
        return self.request.query_params

    @property
    def ip(self) -> str:
        return self.request.client.host if self.request.client else ""


Handler = Callable[[Ctx], Any]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers() or None)


def _session_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def authenticate(sim: Sim, request: Request, tier: str, scope: str, ip: str) -> Principal | None:
    key_header = request.headers.get("x-api-key")
    token = _session_token(request)
    if tier == "public" or (tier == "optional" and not token):
        return None
    if key_header:
        if tier in ("session", "optional"):
            raise ApiError(403, "SESSION_REQUIRED", "this endpoint needs a signed-in session")
        key = sim.auth.key_for(key_header, ip)
        if scope == "trade" and key.scope != "trade":
            raise ApiError(403, "INSUFFICIENT_SCOPE", "this endpoint needs a trade-scoped key")
        return Principal(sim.engine.accounts[key.user_id], "key", key.scope, key)
    if not token:
        raise ApiError(401, "UNAUTHENTICATED", "sign in (SIWE) or send an API key")
    claims = sim.auth.session_claims(token)
    account = sim.engine.accounts.get(str(claims.get("sub")))
    if account is None:
        raise ApiError(401, "INVALID_SESSION", "the session's user is unknown")
    return Principal(account, "session", "trade")


def endpoint(
    sim: Sim,
    name: str,
    handler: Handler,
    *,
    tier: str = "public",
    scope: str = "read",
    order_path: bool = False,
    status: int = 200,
) -> Any:
    async def run(request: Request) -> Response:
        rule = sim.faults.rule_for(name)
        try:
            if rule is not None and rule.latency_ms:
                await asyncio.sleep(rule.latency_ms / 1000)
            if rule is not None and sim.faults.roll(rule.error_rate):
                raise ApiError(
                    rule.status,
                    "INJECTED_FAULT",
                    "simulated failure",
                    retry_after_ms=1000 if rule.status == 429 else None,
                )
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise bad_request("the body is not JSON") from None
            ip = request.client.host if request.client else ""
            principal = authenticate(sim, request, tier, scope, ip)
            if order_path and principal is not None:
                sim.limiter.check(principal.account.order_times)
            result = handler(Ctx(sim, request, body, principal))
        except ApiError as error:
            return error_response(error)
        finally:
            sim.flush()
        if isinstance(result, Response):
            return result
        if rule is not None and sim.faults.roll(rule.lost_reply_rate):
            return error_response(ApiError(503, "INJECTED_FAULT", "the reply was lost"))
        if rule is not None and sim.faults.roll(rule.malformed_rate):
            return Response(json.dumps(result)[:7], media_type="application/json")
        return json_response(result, status)

    return run


# -- helpers ---------------------------------------------------------------------------------


def _int(ctx: Ctx, name: str, default: int, low: int, high: int) -> int:
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be from {low} to {high}")
    return value


def _page(items: list[Any], ctx: Ctx) -> list[Any]:
    """Newest first, ``before`` an exclusive id bound (ULIDs sort in time order)."""
    limit = _int(ctx, "limit", 100, 1, 500)
    before = ctx.query.get("before")
    items = sorted(items, key=lambda x: x.id, reverse=True)
    if before:
        items = [x for x in items if x.id < before]
    return items[:limit]


def _market(ctx: Ctx, name: str = "marketId") -> Market:
    return ctx.sim.engine.market(ctx.query.get(name))


# -- public ----------------------------------------------------------------------------------


def markets(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    return [views.market_view(engine, m) for m in engine.book.active()]


def orderbook(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    market = engine.market(ctx.request.path_params["market_id"])
    depth = _int(ctx, "depth", 10, 1, 100)
    bids, asks = engine.book.levels(market, engine.now(), depth)
    for order in (o for a in engine.accounts.values() for o in a.orders.values()):
        if order.status in ("open", "partially_filled") and order.market_id == market.market_id:
            side = bids if order.side == "buy" else asks
            assert order.price is not None
            side.append((order.price, order.remaining))
    bids.sort(key=lambda lv: -lv[0])
    asks.sort(key=lambda lv: lv[0])
    return {
        "bids": [[fmt(p), fmt(q)] for p, q in bids[:depth]],
        "asks": [[fmt(p), fmt(q)] for p, q in asks[:depth]],
    }


def market_stats(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    market = _market(ctx)
    now = engine.now()
    mark = engine.book.mark(market, now)
    day_ago = int((now - timedelta(days=1)).timestamp()) // 60 * 60
    old = market.candles.get(day_ago)
    change = (mark / old[0] - 1) * 100 if old else ZERO
    oi = (
        sum(
            (
                abs(p.qty)
                for a in engine.accounts.values()
                for p in a.open_positions()
                if p.market_id == market.market_id
            ),
            ZERO,
        )
        * mark
    )
    return {
        "marketId": market.market_id,
        "markPrice": fmt(mark),
        "indexPrice": fmt(engine.book.index[market.base].quantize(market.price_tick)),
        "change24hPct": fmt(change.quantize(Decimal("0.01"))),
        "volume24hUsd": fmt(usdc(market.volume_24h)),
        "openInterestUsd": fmt(usdc(oi)),
        "funding1hPct": fmt(market.funding_1h * 100) if market.market_type == "perp" else "0",
        "nextFundingAt": iso(engine.next_funding),
    }


def ohlc(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    market = _market(ctx, "symbol")
    step = RESOLUTIONS.get(ctx.query.get("resolution") or "15")
    if step is None:
        raise bad_request(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    now = int(engine.now().timestamp())
    end = _int(ctx, "to", now, 0, 2**40)
    start = _int(ctx, "from", end - 300 * step, 0, 2**40)
    start = max(start, end - MAX_RANGE_S)
    bars: dict[int, list[Decimal]] = {}
    for minute in sorted(market.candles):
        if not start <= minute <= end:
            continue
        o, h, low, c, v = market.candles[minute]
        slot = minute // step * step
        bar = bars.get(slot)
        if bar is None:
            bars[slot] = [o, h, low, c, v]
        else:
            bar[1], bar[2], bar[3], bar[4] = max(bar[1], h), min(bar[2], low), c, bar[4] + v
    if not bars:
        return {"s": "no_data"}
    keys = sorted(bars)
    return {
        "s": "ok",
        "t": keys,
        **{k: [fmt(bars[t][i]) for t in keys] for i, k in enumerate("ohlcv")},
    }


def fees(ctx: Ctx) -> Any:
    return [
        {"min30dVolumeUsd": fmt(v), "makerBps": fmt(m), "takerBps": fmt(t)} for v, m, t in FEE_TIERS
    ]


def insurance_fund(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    return {
        "asset": "USDC",
        "balance": fmt(engine.ledger.balance(INSURANCE)),
        "updatedAt": iso(engine.now()),
    }


def health(ctx: Ctx) -> Any:
    return {"status": "ok"}


# -- auth and keys ---------------------------------------------------------------------------


def auth_nonce(ctx: Ctx) -> Any:
    return {"nonce": ctx.sim.auth.nonce(ctx.body)}


def auth_siwe(ctx: Ctx) -> Any:
    host = ctx.request.headers.get("host", "")
    address = ctx.sim.auth.verify_siwe(ctx.body, host)
    account = ctx.sim.engine.create_account(address)
    token = ctx.sim.auth.mint_session(account)
    response = json_response({"userId": account.user_id, "walletAddress": account.address})
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="none",
    )
    return response


def auth_me(ctx: Ctx) -> Any:
    if ctx.principal is None:
        return None
    return {"userId": ctx.account.user_id, "walletAddress": ctx.account.address}


def auth_logout(ctx: Ctx) -> Any:
    token = _session_token(ctx.request)
    assert token is not None
    ctx.sim.auth.revoke_session(token)
    return {"ok": True}


def keys_list(ctx: Ctx) -> Any:
    now = ctx.sim.engine.now()
    return [views.key_view(k, now) for k in ctx.account.keys.values()]


def keys_create(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    key, secret = ctx.sim.auth.create_key(ctx.account, engine.new_id(), ctx.body)
    return {
        **views.key_view(key, engine.now()),
        "secret": secret,
        "message": "Copy this secret now: it will not be shown again.",
    }


def keys_revoke(ctx: Ctx) -> Any:
    key = ctx.account.keys.get(ctx.request.path_params["key_id"])
    if key is None:
        raise ApiError(404, "API_KEY_NOT_FOUND", "no such key")
    key.revoked_at = key.revoked_at or ctx.sim.engine.now()
    return views.key_view(key, ctx.sim.engine.now())


# -- trading ---------------------------------------------------------------------------------


def place(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    return views.placed_view(engine, ctx.account, engine.place(ctx.account, ctx.body))


def preview(ctx: Ctx) -> Any:
    return views.preview_view(ctx.sim.engine.preview(ctx.account, ctx.body))


def cancel(ctx: Ctx) -> Any:
    order = ctx.sim.engine.cancel(ctx.account, ctx.request.path_params["order_id"])
    return views.order_view(order)


def cancel_all(ctx: Ctx) -> Any:
    scope = ctx.body if isinstance(ctx.body, dict) else {}
    canceled = ctx.sim.engine.cancel_all(ctx.account, scope)
    return {"canceled": len(canceled), "orderIds": [o.id for o in canceled]}


def close(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    return views.placed_view(engine, ctx.account, engine.close(ctx.account, ctx.body))


def _quote_result(ctx: Ctx, result: tuple[str, list[Any], list[Any]]) -> Any:
    quote_id, canceled, placed = result
    return {
        "quoteId": quote_id,
        "canceled": len(canceled),
        "orders": [views.placed_view(ctx.sim.engine, ctx.account, p) for p in placed],
    }


def quotes(ctx: Ctx) -> Any:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    sides = []
    for side, key in (("buy", "bid"), ("sell", "ask")):
        if body.get(key) is not None:
            if not isinstance(body[key], dict):
                raise bad_request(f"{key} must be an object")
            sides.append({**body[key], "side": side})
    if not sides:
        raise bad_request("a quote needs a bid or an ask")
    engine = ctx.sim.engine
    return _quote_result(
        ctx, engine.quote(ctx.account, body.get("marketId"), body.get("quoteId"), sides, False)
    )


def quotes_bulk(ctx: Ctx) -> Any:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    items = body.get("quotes")
    if not isinstance(items, list) or not items:
        raise bad_request("quotes must be a non-empty list")
    engine = ctx.sim.engine
    return _quote_result(
        ctx,
        engine.quote(
            ctx.account,
            body.get("marketId"),
            body.get("quoteId"),
            items,
            bool(body.get("cancelAll")),
        ),
    )


# -- account ---------------------------------------------------------------------------------


def _filtered_orders(ctx: Ctx, live_only: bool) -> list[Any]:
    market_id, mode = ctx.query.get("marketId"), ctx.query.get("marginMode")
    status = ctx.query.get("status")
    return [
        o
        for o in ctx.account.orders.values()
        if (not live_only or o.live)
        and (not market_id or o.market_id == market_id)
        and (not mode or o.margin_mode == mode)
        and (not status or o.status == status)
    ]


def orders(ctx: Ctx) -> Any:
    return [views.order_view(o) for o in _page(_filtered_orders(ctx, False), ctx)]


def open_orders(ctx: Ctx) -> Any:
    return [views.order_view(o) for o in _page(_filtered_orders(ctx, True), ctx)]


def positions(ctx: Ctx) -> Any:
    market_id = ctx.query.get("marketId")
    engine = ctx.sim.engine
    return [
        views.position_view(engine, ctx.account, p)
        for p in ctx.account.open_positions()
        if not market_id or p.market_id == market_id
    ]


def trades(ctx: Ctx) -> Any:
    market_id = ctx.query.get("marketId")
    fills = [f for f in ctx.account.fills if not market_id or f.market_id == market_id]
    return [views.fill_view(f) for f in _page(fills, ctx)]


def perps_balances(ctx: Ctx) -> Any:
    return views.perps_balance_view(ctx.sim.engine, ctx.account)


def portfolio_me(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    account = ctx.account
    return {
        "userId": account.user_id,
        "walletAddress": account.address,
        "balances": views.portfolio_balances_view(engine, account),
        "perps": {
            "balances": views.perps_balance_view(engine, account),
            "positions": [
                views.position_view(engine, account, p) for p in account.open_positions()
            ],
        },
        "options": {"positions": []},
    }


def portfolio_balances(ctx: Ctx) -> Any:
    return views.portfolio_balances_view(ctx.sim.engine, ctx.account)


# -- wallet ----------------------------------------------------------------------------------


def wallet_balance(ctx: Ctx) -> Any:
    return views.wallet_balance_view(ctx.sim.engine, ctx.account)


def wallet_assets(ctx: Ctx) -> Any:
    return views.assets_view(ctx.sim.engine, ctx.account)


def wallet_transfer(ctx: Ctx) -> Any:
    ctx.sim.engine.transfer(ctx.account, ctx.body)
    return views.bucket_balances(ctx.sim.engine, ctx.account)


def wallet_withdraw(ctx: Ctx) -> Any:
    settlement = ctx.sim.engine.withdraw(ctx.account, ctx.body, ctx.ip)
    log.warning("POST /wallet/withdraw called for %s (flagged in the ledger)", ctx.account.address)
    return {"withdrawalId": settlement.id}


def wallet_history(ctx: Ctx) -> Any:
    limit = _int(ctx, "limit", 100, 1, 500)
    return views.history_view(ctx.sim.engine, ctx.account)[:limit]


def settlements(ctx: Ctx) -> Any:
    kind, status = ctx.query.get("kind"), ctx.query.get("status")
    limit = _int(ctx, "limit", 50, 1, 200)
    items = [
        s
        for s in sorted(ctx.account.settlements.values(), key=lambda s: s.id, reverse=True)
        if (not kind or s.kind == kind) and (not status or s.status == status)
    ]
    return [views.settlement_view(s) for s in items[:limit]]


def settlement(ctx: Ctx) -> Any:
    found = ctx.account.settlements.get(ctx.request.path_params["settlement_id"])
    if found is None:
        raise ApiError(404, "SETTLEMENT_NOT_FOUND", "no such settlement")
    return views.settlement_view(found)


# -- streams ---------------------------------------------------------------------------------


def _sse(generator: Any) -> StreamingResponse:
    return StreamingResponse(
        generator, media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


def _perps_stream(ctx: Ctx, market_id: str | None) -> StreamingResponse:
    sim, account = ctx.sim, ctx.account
    engine = sim.engine

    def mine(market: str) -> bool:
        return market_id is None or market == market_id

    def capture() -> stream.State:
        return {
            "positions": {
                p.id: views.position_stream_view(p)
                for p in account.open_positions()
                if mine(p.market_id)
            },
            "orders": {
                o.id: views.order_view(o)
                for o in account.orders.values()
                if o.live and mine(o.market_id)
            },
            "trades": {
                f.id: views.fill_view(f)
                for f in account.fills[-stream.SNAPSHOT_TRADES :]
                if mine(f.market_id)
            },
        }

    def snapshot(state: stream.State) -> Any:
        out: dict[str, Any] = {k: list(v.values()) for k, v in state.items()}
        if market_id is not None:
            market = engine.market(market_id)
            bids, asks = engine.book.levels(market, engine.now())
            out["book"] = {
                "bids": [[fmt(p), fmt(q)] for p, q in bids],
                "asks": [[fmt(p), fmt(q)] for p, q in asks],
            }
        return out

    def final_position(pid: str) -> Any:
        found = next((p for p in account.closed_positions if p.id == pid), None)
        return None if found is None else views.position_stream_view(found)

    def final_order(oid: str) -> Any:
        found = account.orders.get(oid)
        return None if found is None else views.order_view(found)

    if market_id is not None:
        engine.market(market_id)
    return _sse(
        stream.account_stream(
            sim.hub,
            account,
            event_types=("PerpStreamSnapshot", "PerpStreamDelta"),
            names=("snapshot", "delta"),
            capture=capture,
            snapshot=snapshot,
            delta=stream.perps_delta(final_position, final_order),
            clock_ms=lambda: epoch_ms(engine.now()),
        )
    )


def stream_user(ctx: Ctx) -> Any:
    return _perps_stream(ctx, None)


def stream_events(ctx: Ctx) -> Any:
    market_id = ctx.query.get("marketId")
    if not market_id:
        raise bad_request("marketId is required")
    return _perps_stream(ctx, market_id)


def stream_balances(ctx: Ctx) -> Any:
    sim, account = ctx.sim, ctx.account
    engine = sim.engine

    def capture() -> stream.State:
        return {"balances": views.portfolio_balances_view(engine, account)}

    def delta(before: stream.State, after: stream.State) -> Any | None:
        return after["balances"] if before != after else None

    return _sse(
        stream.account_stream(
            sim.hub,
            account,
            event_types=("BalanceSnapshot", "BalanceUpdate"),
            names=("snapshot", "update"),
            capture=capture,
            snapshot=lambda s: s["balances"],
            delta=delta,
            clock_ms=lambda: epoch_ms(engine.now()),
        )
    )


def api_routes(sim: Sim) -> list[Route]:
    def r(path: str, method: str, handler: Handler, name: str, **kw: Any) -> Route:
        return Route(path, endpoint(sim, name, handler, **kw), methods=[method])

    acct = {"tier": "account"}
    trade_key = {"tier": "account", "scope": "trade"}
    session = {"tier": "session"}
    return [
        r("/health", "GET", health, "health"),
        r("/perps/markets", "GET", markets, "perps/markets"),
        r("/markets/linear", "GET", markets, "perps/markets"),
        r("/perps/orderbook/{market_id}", "GET", orderbook, "perps/orderbook"),
        r("/perps/market-stats", "GET", market_stats, "perps/market-stats"),
        r("/perps/ohlc", "GET", ohlc, "perps/ohlc"),
        r("/perps/fees", "GET", fees, "perps/fees"),
        r("/perps/insurance-fund", "GET", insurance_fund, "perps/insurance-fund"),
        r("/auth/nonce", "POST", auth_nonce, "auth/nonce"),
        r("/auth/siwe", "POST", auth_siwe, "auth/siwe"),
        r("/auth/me", "GET", auth_me, "auth/me", tier="optional"),
        r("/auth/logout", "POST", auth_logout, "auth/logout", **session),
        r("/perps/me/api-keys", "GET", keys_list, "perps/me/api-keys", **session),
        r("/perps/me/api-keys", "POST", keys_create, "perps/me/api-keys", status=201, **session),
        r("/perps/me/api-keys/{key_id}", "DELETE", keys_revoke, "perps/me/api-keys", **session),
        r("/perps/orders", "POST", place, "perps/orders", order_path=True, **session),
        r("/perps/orders/preview", "POST", preview, "perps/orders/preview", **trade_key),
        r(
            "/perps/orders/cancel-all",
            "POST",
            cancel_all,
            "perps/orders/cancel-all",
            order_path=True,
            **trade_key,
        ),
        r(
            "/perps/orders/{order_id}/cancel",
            "POST",
            cancel,
            "perps/orders/cancel",
            order_path=True,
            **session,
        ),
        r(
            "/perps/positions/close",
            "POST",
            close,
            "perps/positions/close",
            order_path=True,
            **session,
        ),
        r("/perps/quotes", "POST", quotes, "perps/quotes", order_path=True, **session),
        r(
            "/perps/quotes/bulk",
            "POST",
            quotes_bulk,
            "perps/quotes/bulk",
            order_path=True,
            **trade_key,
        ),
        r("/perps/orders", "GET", orders, "perps/orders", **acct),
        r("/perps/orders/open", "GET", open_orders, "perps/orders/open", **acct),
        r("/perps/positions", "GET", positions, "perps/positions", **acct),
        r("/perps/trades", "GET", trades, "perps/trades", **acct),
        r("/perps/balances", "GET", perps_balances, "perps/balances", **acct),
        r("/portfolio/me", "GET", portfolio_me, "portfolio/me", **acct),
        r("/portfolio/balances", "GET", portfolio_balances, "portfolio/balances", **acct),
        r("/wallet/balance", "GET", wallet_balance, "wallet/balance", **acct),
        r("/wallet/assets", "GET", wallet_assets, "wallet/assets", **acct),
        r("/wallet/transfer", "POST", wallet_transfer, "wallet/transfer", **session),
        r("/wallet/withdraw", "POST", wallet_withdraw, "wallet/withdraw", **session),
        r("/wallet/history", "GET", wallet_history, "wallet/history", **acct),
        r("/wallet/settlements", "GET", settlements, "wallet/settlements", **acct),
        r("/wallet/settlements/{settlement_id}", "GET", settlement, "wallet/settlements", **acct),
        r("/perps/stream/user", "GET", stream_user, "perps/stream/user", **acct),
        r("/perps/stream/events", "GET", stream_events, "perps/stream/events", **acct),
        r(
            "/portfolio/balances/stream",
            "GET",
            stream_balances,
            "portfolio/balances/stream",
            **acct,
        ),
    ]
