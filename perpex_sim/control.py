"""The ``/sim/`` control API for tests and demos (never rate-limited, never faulted).

JSON in and out; decimals are strings.

- ``POST /sim/accounts`` ``{"deposit"?: "10000", "permissions"?: ["read"], "expires_in"?: s}``
  -> ``{"api_key", "account_id", "key_id", "permissions", "expires_at"}``: a new account (funded
  with ``deposit`` USDC) and a key for it. ``expires_in`` defaults to 30 days; ``null`` mints a key
  without ``exp``; a negative value an expired one. ``permissions`` defaults to read and trade.
- ``POST /sim/keys`` ``{"account", "permissions"?, "expires_in"?}`` -> the same, for an account.
- ``POST /sim/deposit`` ``{"account", "amount"}`` -> the account as ``GET /api/v1/account``.
- ``POST /sim/price`` ``{"symbol", "mark_price"}``: mark and index now; resting orders, stops,
  warnings and liquidations are evaluated at once.
- ``POST /sim/scenario`` ``{"name": "crash"|"pump"|"drift", "symbol", "pct"?, "seconds"?: 60}``;
  ``seconds: 0`` applies the move now.
- ``GET|POST /sim/pause`` ``{"paused": true}`` freezes the random walk and synthetic prints.
- ``POST /sim/tick`` ``{"count": 1}`` runs engine ticks now (each advances engine time 0.5 s).
- ``POST /sim/funding`` ``{"symbol"?, "rate"?}`` settles one hour of funding now.
- ``GET|POST /sim/config`` ``{"rate_limit": bool, "requests_per_minute": 120, "heartbeat_s": 30,
  "pong_timeout_s": 10, "max_subscriptions": 10, "warning_ratio": "0.8"}``.
- ``GET|POST|DELETE /sim/faults``: see ``faults.py``.
- ``GET /sim/ledger?account=ID`` -> ``{"account_id", "orders", "fills", "funding",
  "balance_changes", "balance"}``; every balance change is ``{"id", "time", "kind", "symbol",
  "amount", "cash_delta", "isolated_delta", "balance", "ref"}`` (kinds: deposit, fee,
  realized_pnl, funding, isolated_margin, insurance_fund) and the amounts sum to ``balance``.
- ``GET /sim/demo`` -> the demo account's credentials (``--scenario demo``), else 404.
- ``GET /sim/state`` -> seed, paused, config, faults, marks and counts (``rate_limited``: the
  429s answered since the start).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perpex_sim.engine import ms, order_view
from perpex_sim.errors import ApiError, invalid
from perpex_sim.http_api import error_response, json_response, read_json
from perpex_sim.keys import DEFAULT_EXPIRY_S, parse_permissions
from perpex_sim.markets import spec_for
from perpex_sim.money import fmt, parse_decimal
from perpex_sim.state import Sim


def mint(sim: Sim, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
    permissions = parse_permissions(body.get("permissions"))
    expires_in = body.get("expires_in", DEFAULT_EXPIRY_S)
    if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, int)):
        raise invalid("expires_in must be whole seconds or null")
    now = sim.engine.clock()
    token, info = sim.keys.mint(account_id, permissions, expires_in, now)
    expires_at = None if expires_in is None else ms(now) + expires_in * 1000
    return {
        "api_key": token,
        "account_id": account_id,
        "key_id": info.kid,
        "permissions": list(permissions),
        "expires_at": expires_at,
    }


def create_account(sim: Sim, body: dict[str, Any]) -> dict[str, Any]:
    deposit = body.get("deposit")
    account = sim.engine.create_account(
        None if deposit is None else parse_decimal(deposit, "deposit")
    )
    return mint(sim, account.id, body)


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise invalid(f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


def control_routes(sim: Sim) -> list[Route]:
    engine = sim.engine

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                body = await read_json(request) if request.method == "POST" else {}
                if not isinstance(body, dict):
                    raise invalid("the body must be a JSON object")
                return json_response(handler(request, body))
            except ApiError as error:
                return error_response(error)

        return endpoint

    def accounts(request: Request, body: dict[str, Any]) -> Any:
        return create_account(sim, body)

    def keys(request: Request, body: dict[str, Any]) -> Any:
        return mint(sim, engine.account(body.get("account")).id, body)

    def deposit(request: Request, body: dict[str, Any]) -> Any:
        account = engine.account(body.get("account"))
        engine.deposit(account, parse_decimal(body.get("amount"), "amount"))
        return engine.account_view(account)

    def price(request: Request, body: dict[str, Any]) -> Any:
        market = engine.markets[spec_for(body.get("symbol")).symbol]
        market.set_price(parse_decimal(body.get("mark_price"), "mark_price"))
        engine.after_price_change()
        sim.hub.broadcast()
        return {
            "symbol": market.spec.symbol,
            "markPrice": fmt(market.mark),
            "indexPrice": fmt(market.index),
        }

    def scenario(request: Request, body: dict[str, Any]) -> Any:
        market = engine.markets[spec_for(body.get("symbol") or "BTC-USD").symbol]
        pct = None if body.get("pct") is None else parse_decimal(body["pct"], "pct")
        seconds = _number(body, "seconds", 0, 86400)
        market.start_scenario(
            str(body.get("name") or ""), pct, 60.0 if seconds is None else seconds, engine.seconds
        )
        if seconds == 0:
            market.step(engine.seconds, paused=True)
            engine.after_price_change()
        return {
            "symbol": market.spec.symbol,
            "name": body.get("name"),
            "markPrice": fmt(market.mark),
        }

    def pause(request: Request, body: dict[str, Any]) -> Any:
        if request.method == "POST":
            engine.paused = bool(body.get("paused", True))
        return {"paused": engine.paused}

    def tick(request: Request, body: dict[str, Any]) -> Any:
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            raise invalid("count must be a whole number from 1 to 1000")
        for _ in range(count):
            engine.tick()
        sim.hub.broadcast()
        return {"ticks": count, "marks": {s: fmt(m.mark) for s, m in engine.markets.items()}}

    def funding(request: Request, body: dict[str, Any]) -> Any:
        rate = None if body.get("rate") is None else parse_decimal(body["rate"], "rate")
        return {"settled": engine.settle_funding(body.get("symbol"), rate)}

    def config(request: Request, body: dict[str, Any]) -> Any:
        if request.method == "POST":
            if "rate_limit" in body:
                sim.limits.enabled = bool(body["rate_limit"])
            per_minute = _number(body, "requests_per_minute", 1, 100_000)
            if per_minute is not None:
                sim.limits.per_minute = int(per_minute)
            sim.limits.reset()
            ws = sim.hub.config
            ws.heartbeat_s = _number(body, "heartbeat_s", 0.1, 3600) or ws.heartbeat_s
            ws.pong_timeout_s = _number(body, "pong_timeout_s", 0.1, 3600) or ws.pong_timeout_s
            ws.max_subscriptions = int(
                _number(body, "max_subscriptions", 1, 1000) or ws.max_subscriptions
            )
            if body.get("warning_ratio") is not None:
                ratio = parse_decimal(body["warning_ratio"], "warning_ratio")
                if not Decimal(0) < ratio <= 1:
                    raise invalid("warning_ratio must be above 0 and at most 1")
                engine.warning_ratio = ratio
        return {
            "rate_limit": sim.limits.enabled,
            "requests_per_minute": sim.limits.per_minute,
            "heartbeat_s": sim.hub.config.heartbeat_s,
            "pong_timeout_s": sim.hub.config.pong_timeout_s,
            "max_subscriptions": sim.hub.config.max_subscriptions,
            "warning_ratio": fmt(engine.warning_ratio),
        }

    def faults(request: Request, body: dict[str, Any]) -> Any:
        dropped = 0
        if request.method == "DELETE":
            sim.faults.clear()
        elif request.method == "POST":
            if body.get("drop_ws"):
                dropped = sim.hub.drop_all()
            if set(body) - {"drop_ws"}:
                sim.faults.add(body)
        return {"faults": sim.faults.listing(), "dropped_ws": dropped}

    def ledger(request: Request, body: dict[str, Any]) -> Any:
        account = engine.account(request.query_params.get("account"))
        return {
            "account_id": account.id,
            "orders": [order_view(o) for o in account.orders.values()],
            "fills": list(account.fills),
            "funding": list(account.funding),
            "balance_changes": list(account.changes),
            "balance": fmt(account.balance),
        }

    def demo(request: Request, body: dict[str, Any]) -> Any:
        if sim.demo is None:
            raise ApiError(404, "NOT_FOUND", "no demo account: start with --scenario demo")
        return sim.demo

    def state(request: Request, body: dict[str, Any]) -> Any:
        return {
            "seed": sim.seed,
            "paused": engine.paused,
            "config": config(request, {}),
            "faults": sim.faults.listing(),
            "marks": {s: fmt(m.mark) for s, m in engine.markets.items()},
            "accounts": len(engine.accounts),
            "ws_connections": len(sim.hub.conns),
            "rate_limited": sim.limits.refused,
        }

    table = [
        ("/sim/accounts", accounts, ["POST"]),
        ("/sim/keys", keys, ["POST"]),
        ("/sim/deposit", deposit, ["POST"]),
        ("/sim/price", price, ["POST"]),
        ("/sim/scenario", scenario, ["POST"]),
        ("/sim/pause", pause, ["GET", "POST"]),
        ("/sim/tick", tick, ["POST"]),
        ("/sim/funding", funding, ["POST"]),
        ("/sim/config", config, ["GET", "POST"]),
        ("/sim/faults", faults, ["GET", "POST", "DELETE"]),
        ("/sim/ledger", ledger, ["GET"]),
        ("/sim/demo", demo, ["GET"]),
        ("/sim/state", state, ["GET"]),
    ]
    return [Route(path, guarded(handler), methods=methods) for path, handler, methods in table]
