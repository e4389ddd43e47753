"""The ``/sim/...`` control API for tests and demos (never rate-limited, never faulted).

- ``POST /sim/accounts`` ``{"deposit": "10000", "perps"?: "5000"}`` → ``{"wallet_address",
  "wallet_private_key", "user_id", "api_key" (trade scope), "read_api_key", "session"}``: a
  fresh wallet (seeded), ``deposit`` USDC in its wallet bucket (then ``perps`` of it moved to the
  perps bucket, as a ledgered transfer), two API keys and a session.
- ``POST /sim/session`` ``{"address", "expires_seconds"?: 604800}`` → ``{"session"}`` (e.g. one
  already expired, with a negative lifetime).
- ``POST /sim/price`` ``{"symbol": "BTC-PERP", "mark_price": "70000"}``: moves the underlying's
  index so that market's mark is that price (the other markets of the underlying follow);
  resting orders, triggers and liquidations are re-evaluated at once.
- ``POST /sim/scenario`` ``{"name": "crash"|"pump"|"drift", "symbol": "BTC-PERP", "pct": "-10",
  "seconds": 60}``: moves the underlying by ``pct`` over ``seconds`` of ticks (0: now).
- ``POST|GET /sim/pause`` ``{"paused": true}`` freezes the random walk.
- ``POST /sim/tick`` ``{"count": 1, "advance_seconds": 0}``: advances the simulator's clock
  (funding each hour boundary passed, futures settled at expiry), then runs engine ticks.
- ``POST /sim/funding`` ``{"symbol": "BTC-PERP", "rate": "0.0001", "settle": false}`` sets the
  market's 1-hour rate (a fraction) and, with ``settle``, pays it now.
- ``POST|GET /sim/limits`` ``{"enabled": true, "per_minute": 120}``: the order-path limit.
- ``POST|DELETE|GET /sim/faults``: see ``faults.py``.
- ``POST|GET /sim/streams`` ``{"heartbeat_s": 15}``: heartbeat period; GET counts connections.
- ``GET /sim/ledger?address=A``: the account's buckets as stored and as recomputed from the
  ledger, its postings, orders, fills, positions, liquidations and any ``/wallet/withdraw``
  calls (``withdrawFlagged``). Without ``address``: the ledger's total (always 0).
- ``GET /sim/demo``: the demo account's credentials (``--scenario demo``), 404 otherwise.
- ``GET /sim/state``: seed, clock, paused, limits, faults, marks, counts.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from eth_account import Account as EthAccount
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ocx_sim import views
from ocx_sim.accounts import Account
from ocx_sim.clock import iso
from ocx_sim.errors import ApiError, bad_request
from ocx_sim.http_api import error_response, json_response
from ocx_sim.money import ONE, fmt, parse_decimal
from ocx_sim.state import Sim

SCENARIOS = {"crash": "-10", "pump": "10", "drift": "-3"}


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise bad_request("the body is not JSON") from None
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object")
    return data


def create_account(sim: Sim, deposit: Decimal | None, perps: Decimal | None) -> dict[str, Any]:
    key = "0x" + sim.rng.randbytes(32).hex()
    address = str(EthAccount.from_key(key).address)
    engine = sim.engine
    account = engine.create_account(address)
    if deposit:
        engine.deposit(account, deposit)
    if perps:
        engine.transfer(account, {"from": "wallet", "to": "perps", "amount": str(perps)})
    trade, trade_secret = sim.auth.create_key(
        account, engine.new_id(), {"name": "sim-trade", "scope": "trade"}
    )
    read, read_secret = sim.auth.create_key(
        account, engine.new_id(), {"name": "sim-read", "scope": "read"}
    )
    return {
        "wallet_address": address,
        "wallet_private_key": key,
        "user_id": account.user_id,
        "api_key": trade_secret,
        "api_key_id": trade.id,
        "read_api_key": read_secret,
        "read_api_key_id": read.id,
        "session": sim.auth.mint_session(account),
    }


def control_routes(sim: Sim) -> list[Route]:
    engine = sim.engine

    def guarded(handler: Any) -> Any:
        async def run(request: Request) -> Response:
            try:
                result = await handler(request)
            except ApiError as error:
                return error_response(error)
            finally:
                sim.flush()
            return json_response(result)

        return run

    def account_for(address: Any) -> Account:
        if not isinstance(address, str) or not address:
            raise bad_request("address is required")
        account = engine.account_by_address(address)
        if account is None:
            raise ApiError(404, "NOT_FOUND", f"no account for {address[:42]}")
        return account

    def amount(body: dict[str, Any], name: str) -> Decimal | None:
        return None if body.get(name) is None else parse_decimal(body[name], name, positive=True)

    async def accounts(request: Request) -> Any:
        body = await _body(request)
        return create_account(sim, amount(body, "deposit"), amount(body, "perps"))

    async def session(request: Request) -> Any:
        body = await _body(request)
        account = account_for(body.get("address"))
        seconds = body.get("expires_seconds", 7 * 86400)
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise bad_request("expires_seconds must be an integer")
        return {"session": sim.auth.mint_session(account, timedelta(seconds=seconds))}

    async def price(request: Request) -> Any:
        body = await _body(request)
        market = engine.market(body.get("symbol"))
        engine.book.set_mark(
            market, parse_decimal(body.get("mark_price"), "mark_price", positive=True), engine.now()
        )
        engine.after_price_change()
        return {"symbol": market.market_id, "mark_price": fmt(engine.mark(market.market_id))}

    async def scenario(request: Request) -> Any:
        body = await _body(request)
        name = body.get("name")
        if name not in SCENARIOS:
            raise bad_request(f"name must be one of {', '.join(SCENARIOS)}")
        market = engine.market(body.get("symbol") or "BTC-PERP")
        pct = parse_decimal(body.get("pct", SCENARIOS[name]), "pct")
        seconds = body.get("seconds", 60)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise bad_request("seconds must be a number of seconds")
        target = ONE + pct / 100
        if seconds == 0:
            engine.book.index[market.base] *= target
            engine.after_price_change()
        else:
            engine.book.moves[market.base] = (target, float(seconds) / sim.tick_seconds)
        return {
            "symbol": market.market_id,
            "name": name,
            "pct": fmt(pct),
            "mark_price": fmt(engine.mark(market.market_id)),
        }

    async def pause(request: Request) -> Any:
        if request.method == "POST":
            engine.paused = bool((await _body(request)).get("paused", True))
        return {"paused": engine.paused}

    async def tick(request: Request) -> Any:
        body = await _body(request)
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 1000:
            raise bad_request("count must be an integer from 0 to 1000")
        advance = body.get("advance_seconds", 0)
        if isinstance(advance, bool) or not isinstance(advance, int | float) or advance < 0:
            raise bad_request("advance_seconds must be a non-negative number")
        if advance:
            engine.advance(float(advance))
        for _ in range(count):
            engine.tick()
        return {
            "now": iso(engine.now()),
            "marks": {m.market_id: fmt(engine.mark(m.market_id)) for m in engine.book.active()},
        }

    async def funding(request: Request) -> Any:
        body = await _body(request)
        market = engine.market(body.get("symbol") or "BTC-PERP")
        if market.market_type != "perp":
            raise bad_request("only perpetuals pay funding")
        if body.get("rate") is not None:
            market.funding_1h = parse_decimal(body["rate"], "rate")
        if body.get("settle"):
            engine.pay_funding(market)
        return {"symbol": market.market_id, "funding1h": fmt(market.funding_1h)}

    async def limits(request: Request) -> Any:
        if request.method == "POST":
            return sim.limiter.configure(await _body(request))
        return sim.limiter.settings()

    async def faults(request: Request) -> Any:
        if request.method == "DELETE":
            sim.faults.clear()
        elif request.method == "POST":
            body = await _body(request)
            gaps = sim.hub.gap_all() if body.get("sse_gap") else 0
            dropped = sim.hub.drop_all() if body.get("drop_sse") else 0
            if set(body) - {"sse_gap", "drop_sse"}:
                sim.faults.set(body)
            return {"faults": sim.faults.active(), "gapped": gaps, "dropped": dropped}
        return {"faults": sim.faults.active()}

    async def streams(request: Request) -> Any:
        if request.method == "POST":
            body = await _body(request)
            value = body.get("heartbeat_s", sim.hub.heartbeat_s)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise bad_request("heartbeat_s must be a positive number")
            sim.hub.heartbeat_s = float(value)
        return {"heartbeat_s": sim.hub.heartbeat_s, "connections": len(sim.hub.connections)}

    async def ledger(request: Request) -> Any:
        address = request.query_params.get("address")
        if not address:
            return {"postings": len(engine.ledger.postings), "total": fmt(engine.ledger.total())}
        return views.ledger_view(engine, account_for(address))

    async def demo(request: Request) -> Any:
        if sim.demo is None:
            raise ApiError(404, "NOT_FOUND", "no demo account: start with --scenario demo")
        return sim.demo

    async def state(request: Request) -> Any:
        return {
            "seed": sim.seed,
            "now": iso(engine.now()),
            "paused": engine.paused,
            "limits": sim.limiter.settings(),
            "faults": sim.faults.active(),
            "marks": {m.market_id: fmt(engine.mark(m.market_id)) for m in engine.book.active()},
            "accounts": len(engine.accounts),
            "streams": len(sim.hub.connections),
        }

    table = [
        ("/sim/accounts", accounts, ["POST"]),
        ("/sim/session", session, ["POST"]),
        ("/sim/price", price, ["POST"]),
        ("/sim/scenario", scenario, ["POST"]),
        ("/sim/pause", pause, ["GET", "POST"]),
        ("/sim/tick", tick, ["POST"]),
        ("/sim/funding", funding, ["POST"]),
        ("/sim/limits", limits, ["GET", "POST"]),
        ("/sim/faults", faults, ["GET", "POST", "DELETE"]),
        ("/sim/streams", streams, ["GET", "POST"]),
        ("/sim/ledger", ledger, ["GET"]),
        ("/sim/demo", demo, ["GET"]),
        ("/sim/state", state, ["GET"]),
    ]
    return [Route(path, guarded(handler), methods=methods) for path, handler, methods in table]
