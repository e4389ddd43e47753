"""The StandX HTTP API (`/api/...`) and the auth service (`/v1/offchain/...`).

One dispatcher per prefix looks the endpoint up in a dict (no per-route regex), then applies,
in order: injected faults, the per-IP rate limit, the bearer token (401), the per-address rate
limit, the body signature (POSTs always; GETs only when signature headers are present, with an
empty payload), and finally the handler.

Pagination of `query_orders`, `query_trades` and `query_funding_history`: newest first (id
descending); `last_id` is an exclusive upper bound (`id < last_id`); `limit` defaults to 100 and
is capped at 500 (`query_open_orders`: 500 / 1200); `page_size` is the length of the returned
page and `total` the number of items matching the filters other than `last_id`/`limit`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from standx_sim import views
from standx_sim.auth import TokenInfo, user_id
from standx_sim.clock import parse_iso
from standx_sim.engine import Account, Order
from standx_sim.errors import ApiError
from standx_sim.money import ZERO, fmt
from standx_sim.signing import has_signature, verify_headers
from standx_sim.state import Sim
from standx_sim.symbols import SYMBOLS, get_symbol

log = logging.getLogger("standx_sim")
JSON = "application/json"


@dataclass
class Ctx:
    request: Request
    sim: Sim
    body: bytes
    token: TokenInfo | None = None

    @property
    def query(self) -> Any:
        return self.request.query_params

    @property
    def account(self) -> Account:
        assert self.token is not None
        return self.sim.engine.account(self.token.user)

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, "body is not valid JSON") from None


Handler = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    handler: Handler
    auth: bool = False
    signed: bool = False


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(data), status_code=status, media_type=JSON, headers=headers)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers or None)


# -- query helpers ------------------------------------------------------------------------


def _int_query(ctx: Ctx, name: str, default: int | None = None) -> int | None:
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None


def _limit(ctx: Ctx, default: int, cap: int) -> int:
    limit = _int_query(ctx, "limit", default) or default
    if limit < 1:
        raise ApiError(400, "limit must be positive")
    return min(limit, cap)


def _time_query(ctx: Ctx, name: str) -> datetime | None:
    raw = ctx.query.get(name)
    if not raw:
        return None
    try:
        if raw.isdigit():
            # Accept Unix seconds or milliseconds as well as the documented ISO-8601.
            value = int(raw)
            return datetime.fromtimestamp(value / 1000 if value > 10**11 else value, UTC)
        return parse_iso(raw)
    except (ValueError, OverflowError):
        raise ApiError(400, f"{name} must be an ISO-8601 time") from None


def _symbol_filter(ctx: Ctx) -> str | None:
    symbol = ctx.query.get("symbol")
    return get_symbol(symbol).symbol if symbol else None


def _page(items: Iterable[dict[str, Any]], ctx: Ctx, default: int, cap: int) -> dict[str, Any]:
    """Newest first; `last_id` exclusive upper bound; envelope with code/message."""
    rows = sorted(items, key=lambda item: item["id"], reverse=True)
    total = len(rows)
    last_id = _int_query(ctx, "last_id")
    if last_id is not None:
        rows = [row for row in rows if row["id"] < last_id]
    rows = rows[: _limit(ctx, default, cap)]
    return {"code": 0, "message": "success", "page_size": len(rows), "result": rows, "total": total}


def _accepted(ctx: Ctx) -> dict[str, Any]:
    return {"code": 0, "message": "success", "request_id": _request_id(ctx)}


def _request_id(ctx: Ctx) -> str:
    cached = ctx.request.scope.get("sim_request_id")
    if cached is None:
        cached = ctx.request.headers.get("x-request-id") or str(uuid.uuid4())
        ctx.request.scope["sim_request_id"] = cached
    return str(cached)


def _in_window(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment <= end)


# -- trade endpoints ----------------------------------------------------------------------


def new_order(ctx: Ctx) -> Any:
    assert ctx.token is not None
    result = ctx.sim.engine.place_order(ctx.token.user, ctx.json())
    _push_session(ctx, 400 if result.rejected else 0, result.rejected or "success")
    return _accepted(ctx)


def cancel_order(ctx: Ctx) -> Any:
    assert ctx.token is not None
    try:
        ctx.sim.engine.cancel_order(ctx.token.user, ctx.json())
    except ApiError as error:
        _push_session(ctx, error.status, error.message)
        raise
    _push_session(ctx, 0, "success")
    return _accepted(ctx)


def _push_session(ctx: Ctx, code: int, message: str) -> None:
    """Route the matching outcome to the ws-api connection named by `x-session-id`."""
    session = ctx.request.headers.get("x-session-id")
    if session:
        ctx.sim.hub.push_session(
            session, {"code": code, "message": message, "request_id": _request_id(ctx)}
        )


def cancel_orders(ctx: Ctx) -> Any:
    assert ctx.token is not None
    ctx.sim.engine.cancel_orders(ctx.token.user, ctx.json())
    return []


def change_leverage(ctx: Ctx) -> Any:
    assert ctx.token is not None
    ctx.sim.engine.change_leverage(ctx.token.user, ctx.json())
    return _accepted(ctx)


def change_margin_mode(ctx: Ctx) -> Any:
    assert ctx.token is not None
    ctx.sim.engine.change_margin_mode(ctx.token.user, ctx.json())
    return _accepted(ctx)


def transfer_margin(ctx: Ctx) -> Any:
    assert ctx.token is not None
    ctx.sim.engine.transfer_margin(ctx.token.user, ctx.json())
    return _accepted(ctx)


# -- user endpoints -----------------------------------------------------------------------


def query_order(ctx: Ctx) -> Any:
    account = ctx.account
    order_id = ctx.query.get("order_id")
    cl_ord_id = ctx.query.get("cl_ord_id")
    order: Order | None
    if order_id:
        if not order_id.isdigit():
            raise ApiError(400, "order_id must be an integer")
        order = account.orders.get(int(order_id))
    elif cl_ord_id:
        oid = account.cl_index.get(cl_ord_id)
        order = account.orders.get(oid) if oid is not None else None
    else:
        raise ApiError(400, "order_id or cl_ord_id is required")
    if order is None:
        raise ApiError(404, "order not found")
    return views.order_view(order)


def query_orders(ctx: Ctx) -> Any:
    account = ctx.account
    symbol = _symbol_filter(ctx)
    status = ctx.query.get("status")
    if status == "new":
        status = "open"  # the docs' examples say "new" where the enum says "open"
    order_type = ctx.query.get("order_type")
    start, end = _time_query(ctx, "start"), _time_query(ctx, "end")
    view = views.order_view
    rows = [
        view(o)
        for o in account.orders.values()
        if (symbol is None or o.symbol == symbol)
        and (status is None or o.status == status)
        and (order_type is None or o.order_type == order_type)
        and _in_window(o.created_at, start, end)
    ]
    return _page(rows, ctx, 100, 500)


def query_open_orders(ctx: Ctx) -> Any:
    account = ctx.account
    symbol = _symbol_filter(ctx)
    view = views.order_view
    rows = [view(o) for o in account.open_orders.values() if symbol is None or o.symbol == symbol]
    rows.sort(key=lambda row: row["id"], reverse=True)
    rows = rows[: _limit(ctx, 500, 1200)]
    return {
        "code": 0,
        "message": "success",
        "page_size": len(rows),
        "result": rows,
        "total": len(rows),
    }


def query_trades(ctx: Ctx) -> Any:
    account = ctx.account
    symbol = _symbol_filter(ctx)
    side = ctx.query.get("side")
    start, end = _time_query(ctx, "start"), _time_query(ctx, "end")
    view = views.trade_view
    rows = [
        view(t)
        for t in account.trades
        if (symbol is None or t["symbol"] == symbol)
        and (side is None or t["side"] == side)
        and _in_window(t["_time"], start, end)
    ]
    return _page(rows, ctx, 100, 500)


def query_funding_history(ctx: Ctx) -> Any:
    account = ctx.account
    symbol = _symbol_filter(ctx)
    start, end = _time_query(ctx, "start"), _time_query(ctx, "end")
    rows = [
        {k: v for k, v in f.items() if not k.startswith("_")}
        for f in account.funding
        if (symbol is None or f["symbol"] == symbol) and _in_window(f["_time"], start, end)
    ]
    rows.sort(key=lambda row: row["id"], reverse=True)
    last_id = _int_query(ctx, "last_id")
    if last_id is not None:
        rows = [row for row in rows if row["id"] < last_id]
    return rows[: _limit(ctx, 100, 500)]


def query_position_config(ctx: Ctx) -> Any:
    spec = get_symbol(ctx.query.get("symbol"))
    cfg = ctx.account.config(spec)
    # A string, as DJI parses it (the docs' example shows an int; clients accept both).
    return {"symbol": spec.symbol, "leverage": str(cfg.leverage), "margin_mode": cfg.margin_mode}


def query_positions(ctx: Ctx) -> Any:
    return views.positions_view(ctx.sim.engine, ctx.account, _symbol_filter(ctx))


def query_balance(ctx: Ctx) -> Any:
    return views.balance_view(ctx.sim.engine, ctx.account)


# -- public endpoints ---------------------------------------------------------------------


def query_symbol_info(ctx: Ctx) -> Any:
    symbol = _symbol_filter(ctx)
    markets = ctx.sim.engine.markets
    return [
        spec.info(markets[spec.symbol].status)
        for spec in SYMBOLS.values()
        if symbol is None or spec.symbol == symbol
    ]


def query_symbol_market(ctx: Ctx) -> Any:
    spec = get_symbol(ctx.query.get("symbol"))
    engine = ctx.sim.engine
    return engine.markets[spec.symbol].market_view(
        engine.clock(), views.open_interest(engine, spec.symbol)
    )


def query_symbol_price(ctx: Ctx) -> Any:
    spec = get_symbol(ctx.query.get("symbol"))
    engine = ctx.sim.engine
    return engine.markets[spec.symbol].price_view(engine.clock())


def query_depth_book(ctx: Ctx) -> Any:
    spec = get_symbol(ctx.query.get("symbol"))
    return views.depth_view(ctx.sim.engine, spec.symbol)


def query_recent_trades(ctx: Ctx) -> Any:
    spec = get_symbol(ctx.query.get("symbol"))
    limit = _limit(ctx, 50, 200)
    return list(ctx.sim.engine.markets[spec.symbol].recent_trades)[:limit]


def query_funding_rates(ctx: Ctx) -> Any:
    spec = get_symbol(ctx.query.get("symbol"))
    start = _int_query(ctx, "start_time")
    end = _int_query(ctx, "end_time")
    history = ctx.sim.engine.markets[spec.symbol].funding_history
    return [
        {k: v for k, v in row.items() if not k.startswith("_")}
        for row in history
        if (start is None or row["_ts"] * 1000 >= start)
        and (end is None or row["_ts"] * 1000 <= end)
    ]


def query_market_overview(ctx: Ctx) -> Any:
    engine = ctx.sim.engine
    now = engine.clock()
    symbols = []
    total_oi_notional = ZERO
    total_volume_quote = ZERO
    for spec in SYMBOLS.values():
        market = engine.markets[spec.symbol]
        market.refresh_stats(now)
        oi = views.open_interest(engine, spec.symbol)
        volume = market.stats["volume"]
        volume_quote = volume * market.mark
        opening = market.stats["open"]
        change = float((market.mark - opening) / opening * 100) if opening else 0.0
        total_oi_notional += oi * market.mark
        total_volume_quote += volume_quote
        symbols.append(
            {
                "base": spec.base,
                "quote": spec.quote,
                "symbol": spec.symbol,
                "last_price": None if market.last_price is None else fmt(market.last_price),
                "mark_price": fmt(market.mark),
                "funding_rate": fmt(market.current_funding_rate()),
                "open_interest": fmt(oi),
                "open_interest_notional": fmt((oi * market.mark).quantize(spec.price_tick)),
                "price_change_pct": round(change, 4),
                "volume_24h": fmt(volume),
                "volume_quote_24h": fmt(volume_quote.quantize(spec.price_tick)),
                "time": now.isoformat().replace("+00:00", "Z"),
            }
        )
    return {
        "summary": {
            "open_interest_notional": fmt(
                total_oi_notional.quantize(SYMBOLS["BTC-USD"].price_tick)
            ),
            "symbol_count": len(symbols),
            "volume_quote_24h": fmt(total_volume_quote.quantize(SYMBOLS["BTC-USD"].price_tick)),
        },
        "symbols": symbols,
    }


def kline_time(ctx: Ctx) -> Any:
    return int(time.time())


def kline_history(ctx: Ctx) -> Any:
    spec = get_symbol(ctx.query.get("symbol"))
    resolution = ctx.query.get("resolution") or "1"
    now = int(time.time())
    start = _int_query(ctx, "from", now - 86400)
    end = _int_query(ctx, "to", now)
    countback = _int_query(ctx, "countback")
    if countback is None:
        countback = _int_query(ctx, "countBack")  # RTX's spelling
    assert start is not None
    assert end is not None
    return ctx.sim.engine.markets[spec.symbol].klines(resolution, start, end, countback)


def health(ctx: Ctx) -> Any:
    return PlainTextResponse("OK")


# -- auth endpoints -----------------------------------------------------------------------


def prepare_signin(ctx: Ctx) -> Any:
    return ctx.sim.auth.prepare_signin(ctx.query.get("chain"), ctx.json())


def login(ctx: Ctx) -> Any:
    sim = ctx.sim
    body = ctx.json()
    result = sim.auth.login(ctx.query.get("chain"), body)
    expires = body.get("expiresSeconds", 604_800) if isinstance(body, dict) else 604_800
    if isinstance(expires, bool) or not isinstance(expires, int) or expires <= 0:
        raise ApiError(400, "expiresSeconds must be a positive integer")
    user = user_id(result.chain, result.address)
    account = sim.engine.accounts.get(user)
    if account is None:
        account = sim.engine.ensure_account(result.chain, result.address, user)
    token = sim.auth.mint(result.chain, result.address, result.request_key, expires)
    return {
        "token": token,
        "address": result.address,
        "alias": "sim_" + result.address[-6:].lower(),
        "chain": result.chain,
        "perpsAlpha": True,
    }


def certs(ctx: Ctx) -> Any:
    return ctx.sim.auth.jwks()


def region(ctx: Ctx) -> Any:
    return {"systemTime": int(time.time() * 1000), "region": "sim"}


API: dict[str, Endpoint] = {
    "new_order": Endpoint("POST", new_order, auth=True, signed=True),
    "cancel_order": Endpoint("POST", cancel_order, auth=True, signed=True),
    "cancel_orders": Endpoint("POST", cancel_orders, auth=True, signed=True),
    "change_leverage": Endpoint("POST", change_leverage, auth=True, signed=True),
    "change_margin_mode": Endpoint("POST", change_margin_mode, auth=True, signed=True),
    "transfer_margin": Endpoint("POST", transfer_margin, auth=True, signed=True),
    "query_order": Endpoint("GET", query_order, auth=True),
    "query_orders": Endpoint("GET", query_orders, auth=True),
    "query_open_orders": Endpoint("GET", query_open_orders, auth=True),
    "query_trades": Endpoint("GET", query_trades, auth=True),
    "query_funding_history": Endpoint("GET", query_funding_history, auth=True),
    "query_position_config": Endpoint("GET", query_position_config, auth=True),
    "query_positions": Endpoint("GET", query_positions, auth=True),
    "query_balance": Endpoint("GET", query_balance, auth=True),
    "query_symbol_info": Endpoint("GET", query_symbol_info),
    "query_symbol_market": Endpoint("GET", query_symbol_market),
    "query_symbol_price": Endpoint("GET", query_symbol_price),
    "query_depth_book": Endpoint("GET", query_depth_book),
    "query_recent_trades": Endpoint("GET", query_recent_trades),
    "query_funding_rates": Endpoint("GET", query_funding_rates),
    "query_market_overview": Endpoint("GET", query_market_overview),
    "kline/time": Endpoint("GET", kline_time),
    "kline/history": Endpoint("GET", kline_history),
    "health": Endpoint("GET", health),
    "region": Endpoint("GET", region),
}

OFFCHAIN: dict[str, Endpoint] = {
    "prepare-signin": Endpoint("POST", prepare_signin),
    "login": Endpoint("POST", login),
    "certs": Endpoint("GET", certs),
}


def _malformed(response: Response) -> Response:
    body = bytes(response.body)
    cut_at = max(1, len(body) // 2)
    return Response(body[:cut_at] + b'{"', status_code=200, media_type=JSON)


def make_dispatcher(
    sim: Sim, table: dict[str, Endpoint], prefix: str
) -> Callable[[Request], Awaitable[Response]]:
    prefix_len = len(prefix)

    async def dispatch(request: Request) -> Response:
        name = request.url.path[prefix_len:]
        endpoint = table.get(name)
        if endpoint is None:
            return error_response(ApiError(404, f"unknown endpoint: {request.url.path}"))
        if request.method != endpoint.method and not (
            request.method == "HEAD" and endpoint.method == "GET"
        ):
            return error_response(ApiError(405, f"{request.method} not allowed"))
        malformed = False
        rule = sim.faults.rule_for(name)
        if rule is not None:
            if rule.latency_ms:
                await asyncio.sleep(rule.latency_ms / 1000)
            if sim.faults.roll(rule.error_rate):
                headers = {"Retry-After": str(rule.retry_after)} if rule.status == 429 else None
                return error_response(ApiError(rule.status, "injected fault", headers))
            malformed = sim.faults.roll(rule.malformed_rate)
        try:
            if name != "health":
                sim.limiter.check_ip(request.client.host if request.client else "?")
            body = await request.body() if request.method == "POST" else b""
            ctx = Ctx(request, sim, body)
            req_headers = request.headers
            if endpoint.auth:
                ctx.token = sim.auth.resolve(req_headers.get("authorization"))
                sim.limiter.check_address(ctx.token.user)
                if endpoint.signed or has_signature(req_headers):
                    verify_headers(req_headers, body, ctx.token.key, int(time.time() * 1000))
            result = endpoint.handler(ctx)
            response = result if isinstance(result, Response) else json_response(result)
        except ApiError as error:
            return error_response(error)
        except Exception:
            log.exception("unhandled error in %s", request.url.path)
            return error_response(ApiError(500, "internal error"))
        return _malformed(response) if malformed else response

    return dispatch
