"""The REST API under ``/api/v1``: the reference's six routes, the batch route, and open orders.

Each request passes, in order: injected faults (latency, error before handling), the bearer key
(401) on private routes, the rate limit (per key, or per IP without one; 429), the trade
permission on order routes (403), the handler, then the "after" faults (the request took effect
but the answer is an error) and malformed bodies.

Shapes (camelCase, decimals as strings, times as Unix milliseconds; successes are bare JSON,
errors ``{"error": {"code", "message"}}``):

- ``GET /api/v1/markets`` -> ``[market]`` (``Market.view``).
- ``GET /api/v1/orderbook/{symbol}?depth=20`` (1-100) -> ``{symbol, bids, asks, markPrice,
  indexPrice, time}``; levels are ``[price, size]``.
- ``GET /api/v1/account`` -> ``{accountId, balances, margin, positions, time}``.
- ``POST /api/v1/orders`` ``{symbol, side, type, quantity, price?, stopPrice?, timeInForce?,
  reduceOnly?, clientOrderId?, leverage?, marginMode?}`` -> the order.
- ``POST /api/v1/orders/batch`` ``{orders: [...]}`` (1-10, else 400 ``BATCH_TOO_LARGE``) ->
  ``{results: [{index, status: "ok", order} | {index, status: "error", error: {code, message}}]}``
  with HTTP 200 even when some fail: each order stands alone.
- ``DELETE /api/v1/orders/{id}`` -> the cancelled order; 404 ``ORDER_NOT_FOUND``.
- ``GET /api/v1/orders?status=open`` -> ``[order]`` (an assumed route; see the client's notes).
- ``GET /api/v1/trades?symbol&startTime&endTime&limit&cursor`` -> ``{data: [fill], nextCursor}``:
  newest first, ``limit`` 1-500 (default 100); ``nextCursor`` (opaque) is null on the last page.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perpex_sim.engine import OPEN, Account, ms, order_view
from perpex_sim.errors import ApiError, invalid
from perpex_sim.keys import KeyInfo
from perpex_sim.markets import spec_for
from perpex_sim.money import fmt
from perpex_sim.state import Sim

log = logging.getLogger("perpex_sim")
BATCH_MAX = 10


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers or None)


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid("the body is not JSON") from None


@dataclass
class Call:
    request: Request
    sim: Sim
    key: KeyInfo | None

    @property
    def account(self) -> Account:
        assert self.key is not None
        return self.sim.engine.account(self.key.account)

    def int_param(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.request.query_params.get(name)
        if raw in (None, ""):
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise invalid(f"{name} must be a whole number from {low} to {high}")
        return int(raw)


def markets(call: Call) -> Any:
    engine = call.sim.engine
    now = ms(engine.clock())
    funding = ms(engine.next_funding)
    return [m.view(now, funding, open_interest(call.sim, s)) for s, m in engine.markets.items()]


def open_interest(sim: Sim, symbol: str) -> Any:
    longs = (
        p.size
        for a in sim.engine.accounts.values()
        for p in a.positions.values()
        if p.symbol == symbol and p.size > 0
    )
    return sum(longs, sim.engine.markets[symbol].spec.lot_size * 10_000)


def orderbook(call: Call) -> Any:
    spec = spec_for(call.request.path_params["symbol"])
    market = call.sim.engine.markets[spec.symbol]
    depth = call.int_param("depth", 20, 1, 100)
    return {
        "symbol": spec.symbol,
        **market.book(depth),
        "markPrice": fmt(market.mark),
        "indexPrice": fmt(market.index),
        "time": ms(call.sim.engine.clock()),
    }


def account(call: Call) -> Any:
    return call.sim.engine.account_view(call.account)


async def place(call: Call) -> Any:
    return order_view(call.sim.engine.place(call.account, await read_json(call.request)))


async def batch(call: Call) -> Any:
    body = await read_json(call.request)
    orders = body.get("orders") if isinstance(body, dict) else None
    if not isinstance(orders, list) or not orders:
        raise invalid("send {orders: [...]} with 1 to 10 orders")
    if len(orders) > BATCH_MAX:
        raise ApiError(
            400, "BATCH_TOO_LARGE", f"at most {BATCH_MAX} orders per batch, got {len(orders)}"
        )
    results = []
    for index, params in enumerate(orders):
        try:
            order = call.sim.engine.place(call.account, params)
        except ApiError as error:
            results.append({"index": index, "status": "error", "error": error.body()["error"]})
        else:
            results.append({"index": index, "status": "ok", "order": order_view(order)})
    return {"results": results}


def cancel(call: Call) -> Any:
    return order_view(call.sim.engine.cancel(call.account, call.request.path_params["order_id"]))


def open_orders(call: Call) -> Any:
    status = call.request.query_params.get("status", "open")
    if status != "open":
        raise invalid("only status=open is served")
    return [order_view(o) for o in call.account.orders.values() if o.status in OPEN]


def _cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded.startswith("before:") or not decoded[7:].isdigit():
        raise invalid("cursor is not one this server gave out")
    return int(decoded[7:])


def trades(call: Call) -> Any:
    query = call.request.query_params
    symbol = spec_for(query["symbol"]).symbol if query.get("symbol") else None
    start = call.int_param("startTime", 0, 0, 10**15)
    end = call.int_param("endTime", 10**15, 0, 10**15)
    limit = call.int_param("limit", 100, 1, 500)
    before = _cursor(query.get("cursor"))
    rows = [
        f
        for f in reversed(call.account.fills)
        if (symbol is None or f["symbol"] == symbol)
        and start <= f["time"] <= end
        and (before is None or int(f["id"]) < before)
    ]
    page = rows[:limit]
    if len(rows) <= limit:  # the last page (an empty one too)
        return {"data": page, "nextCursor": None}
    token = base64.urlsafe_b64encode(f"before:{page[-1]['id']}".encode()).decode().rstrip("=")
    return {"data": page, "nextCursor": token}


Handler = Callable[[Call], Any]


def api_routes(sim: Sim) -> list[Route]:
    def route(
        path: str,
        method: str,
        name: str,
        handler: Handler,
        *,
        private: bool = True,
        trade: bool = False,
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            rule = sim.faults.rule(name)
            if rule is not None and rule.latency_ms:
                await asyncio.sleep(rule.latency_ms / 1000)
            if rule is not None and sim.faults.hit(rule.error_rate):
                return _injected(rule.status, rule.retry_after)
            try:
                key = None
                if private:
                    key = sim.keys.resolve(request.headers.get("authorization"))
                    sim.limits.charge_key(key.kid)
                else:
                    sim.limits.charge_ip(request.client.host if request.client else "?")
                if trade and key is not None:
                    key.require_trade()
                result = handler(Call(request, sim, key))
                if asyncio.iscoroutine(result):
                    result = await result
            except ApiError as error:
                return error_response(error)
            except Exception:
                log.exception("unhandled error in %s", request.url.path)
                return error_response(ApiError(500, "INTERNAL_ERROR", "internal error"))
            if rule is not None and sim.faults.hit(rule.after_rate):
                return _injected(rule.status, rule.retry_after)
            response = json_response(result)
            if rule is not None and sim.faults.hit(rule.malformed_rate):
                return Response(
                    bytes(response.body)[: max(1, len(response.body) // 2)],
                    media_type="application/json",
                )
            return response

        return Route(path, endpoint, methods=[method])

    return [
        route("/api/v1/markets", "GET", "markets", markets, private=False),
        route("/api/v1/orderbook/{symbol}", "GET", "orderbook", orderbook, private=False),
        route("/api/v1/account", "GET", "account", account),
        route("/api/v1/orders/batch", "POST", "orders/batch", batch, trade=True),
        route("/api/v1/orders", "POST", "orders", place, trade=True),
        route("/api/v1/orders", "GET", "open-orders", open_orders),
        route("/api/v1/orders/{order_id}", "DELETE", "cancel", cancel, trade=True),
        route("/api/v1/trades", "GET", "trades", trades),
    ]


def _injected(status: int, retry_after: int) -> Response:
    code = {429: "RATE_LIMITED", 401: "UNAUTHORIZED", 403: "FORBIDDEN"}.get(
        status, "INJECTED_FAULT"
    )
    headers = {"Retry-After": str(retry_after)} if status == 429 else None
    return error_response(ApiError(status, code, "injected fault", headers))
