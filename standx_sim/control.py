"""The `/sim/...` control API for tests and demos (never rate-limited, never faulted).

Requests and answers are JSON. Decimals are strings.

- `POST /sim/accounts` `{"chain": "bsc"|"solana", "deposit": "10000", "address"?: A,
  "expires_seconds"?: 604800}` -> `{"address", "token", "signing_key", "user", "public_key"}`.
  Creates (or, with `address`, finds or creates) a wallet, deposits `deposit` DUSD (omitted:
  no deposit, so a new wallet stays unfunded and `query_balance` answers 404), and mints a fresh
  access token bound to a fresh ed25519 signing key (`signing_key` = base58 of its 32-byte seed,
  `public_key` = base58 of its public key).
- `POST /sim/deposit` `{"address": A, "amount": "500"}` -> the account's `query_balance` view.
- `POST /sim/withdraw` `{"address": A, "amount": "200"}` -> the account's `query_balance` view:
  money leaving the venue account (a withdrawal or a transfer out), at most `cross_available`
  (400 otherwise); the ledger records it as kind `withdrawal`.
- `POST /sim/token` `{"address": A, "expires_seconds": -60}` -> `{"address", "token",
  "signing_key", "user", "public_key"}`: a token for an existing account, e.g. already expired.
- `POST /sim/price` `{"symbol": "BTC-USD", "mark_price": "100000"}` -> `{"symbol", "mark_price",
  "index_price"}`: sets mark and index now; resting orders, TP/SL and liquidations are
  re-evaluated at once.
- `POST /sim/symbol-status` `{"symbol": "SOL-USD", "status": "halt"}` -> `{"symbol", "status"}`:
  the `status` that `query_symbol_info` reports for the symbol ("trading" while listed). Any other
  non-empty word simulates a delisted or halted market: new orders on it are refused with 400,
  while resting orders, TP/SL, liquidations and prices go on. Post "trading" to list it again.
- `POST /sim/scenario` `{"name": "crash", "symbol": "BTC-USD", "pct": "-10", "seconds": 60}`.
  Names: crash, dump, pump, squeeze (up then a third back), flash_crash (down then recover),
  drift, volatile (5x noise). `pct` defaults per name; `seconds: 0` applies the move now.
- `POST /sim/pause` `{"paused": true}` freezes the random walk, premium noise and synthetic
  trades (scenarios still run). `GET /sim/pause` -> `{"paused"}`.
- `POST /sim/tick` `{"count": 1}` runs engine ticks now (walk, scenarios, fills, liquidations).
- `POST /sim/funding` `{"symbol"?: S, "rate"?: "0.0001"}` settles one funding interval now for
  one or every symbol (at `rate`, or the current estimate) -> `{"settled": [funding records]}`.
- `POST /sim/limits` `{"enabled": false, "address_capacity"?, "address_refill"?,
  "request_cost"?, "ip_rate"?}` and `GET /sim/limits`.
- `POST /sim/faults`, `DELETE /sim/faults[?endpoint=NAME]`, `GET /sim/faults`: see `faults.py`.
  `"drop_ws": true` closes every open WebSocket now.
- `GET /sim/ledger?address=A` -> `{"address", "user", "chain", "orders", "trades", "funding",
  "balance_changes", "balance"}`; each balance change is `{"id", "time", "kind", "symbol",
  "amount", "cross_delta", "isolated_delta", "cross_balance", "isolated_balance", "ref_id"}`
  where `amount` is the change of total balance (kinds: deposit, withdrawal, fee, realized_pnl,
  funding, isolated_margin, transfer_margin, insurance_fund), so sum(amount) = balance.
- `GET /sim/demo` -> `{"address", "token", "signing_key", ...}` of the demo account
  (`--scenario demo`), 404 otherwise.
- `GET /sim/symbols` -> symbol info plus margin tiers; `GET /sim/state` -> paused, limits,
  faults, marks, account and connection counts.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from eth_account import Account as EthAccount
from nacl.signing import SigningKey
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from standx_sim import views
from standx_sim.auth import DEFAULT_TOKEN_SECONDS, user_id, validate_address, validate_chain
from standx_sim.engine import find_account_by_address
from standx_sim.errors import ApiError
from standx_sim.http_api import error_response, json_response
from standx_sim.money import fmt, parse_decimal
from standx_sim.signing import public_key_base58, seed_to_base58
from standx_sim.state import Sim
from standx_sim.symbols import SYMBOLS, get_symbol


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def _expires(body: dict[str, Any]) -> int:
    value = body.get("expires_seconds", DEFAULT_TOKEN_SECONDS)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "expires_seconds must be an integer")
    return value


def new_credentials(sim: Sim, chain: str, address: str, expires_seconds: int) -> dict[str, Any]:
    seed = sim.rng.randbytes(32)
    key = SigningKey(seed)
    token = sim.auth.mint(chain, address, key.verify_key, expires_seconds)
    return {
        "address": address,
        "token": token,
        "signing_key": seed_to_base58(seed),
        "user": user_id(chain, address),
        "public_key": public_key_base58(key),
    }


def create_account(
    sim: Sim,
    chain: str,
    deposit: Decimal | None,
    address: str | None = None,
    expires_seconds: int = DEFAULT_TOKEN_SECONDS,
) -> dict[str, Any]:
    chain = validate_chain(chain)
    if address is None:
        if chain == "bsc":
            address = str(EthAccount.from_key(sim.rng.randbytes(32)).address)
        else:
            address = public_key_base58(SigningKey(sim.rng.randbytes(32)))
    else:
        address = validate_address(chain, address)
        existing = find_account_by_address(sim.engine, address)
        if existing is not None:
            address = existing.address
    account = sim.engine.ensure_account(chain, address, user_id(chain, address))
    if deposit is not None:
        sim.engine.deposit(account, deposit)
    return new_credentials(sim, chain, account.address, expires_seconds)


def control_routes(sim: Sim) -> list[Route]:
    engine = sim.engine

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                result = await handler(request)
            except ApiError as error:
                return error_response(error)
            return result if isinstance(result, Response) else json_response(result)

        return endpoint

    def account_for(address: Any) -> Any:
        if not isinstance(address, str) or not address:
            raise ApiError(400, "address is required")
        account = find_account_by_address(engine, address)
        if account is None:
            raise ApiError(404, f"no account for address {address}")
        return account

    async def accounts(request: Request) -> Any:
        body = await _body(request)
        deposit = body.get("deposit")
        amount = None if deposit is None else parse_decimal(deposit, "deposit")
        return create_account(
            sim, str(body.get("chain") or "bsc"), amount, body.get("address"), _expires(body)
        )

    async def deposit(request: Request) -> Any:
        body = await _body(request)
        account = account_for(body.get("address"))
        engine.deposit(account, parse_decimal(body.get("amount"), "amount"))
        return views.balance_view(engine, account)

    async def withdraw(request: Request) -> Any:
        body = await _body(request)
        account = account_for(body.get("address"))
        engine.withdraw(account, parse_decimal(body.get("amount"), "amount"))
        return views.balance_view(engine, account)

    async def token(request: Request) -> Any:
        body = await _body(request)
        account = account_for(body.get("address"))
        return new_credentials(sim, account.chain, account.address, _expires(body))

    async def price(request: Request) -> Any:
        body = await _body(request)
        spec = get_symbol(body.get("symbol"))
        engine.set_price(spec.symbol, parse_decimal(body.get("mark_price"), "mark_price"))
        market = engine.markets[spec.symbol]
        sim.hub.broadcast_market()
        return {
            "symbol": spec.symbol,
            "mark_price": fmt(market.mark),
            "index_price": fmt(market.index),
        }

    async def symbol_status(request: Request) -> Any:
        body = await _body(request)
        spec = get_symbol(body.get("symbol"))
        status = body.get("status")
        if not isinstance(status, str) or not status.strip():
            raise ApiError(400, 'status must be a word such as "trading" or "halt"')
        engine.markets[spec.symbol].status = status.strip()
        return {"symbol": spec.symbol, "status": engine.markets[spec.symbol].status}

    async def scenario(request: Request) -> Any:
        body = await _body(request)
        spec = get_symbol(body.get("symbol") or "BTC-USD")
        pct = None if body.get("pct") is None else parse_decimal(body.get("pct"), "pct")
        try:
            seconds = float(body.get("seconds", 60))
        except (TypeError, ValueError):
            raise ApiError(400, "seconds must be a number") from None
        market = engine.markets[spec.symbol]
        now = engine.engine_time()
        market.start_scenario(str(body.get("name") or ""), pct, seconds, now)
        if seconds == 0:
            market.step(now, paused=True)
            market.record_mark(engine.clock())
            engine.after_price_change()
            sim.hub.broadcast_market()
        scenario_ = market.scenario
        return {
            "symbol": spec.symbol,
            "name": body.get("name"),
            "pct": fmt(pct) if pct is not None else (fmt(scenario_.pct) if scenario_ else None),
            "seconds": seconds,
            "mark_price": fmt(market.mark),
        }

    async def pause(request: Request) -> Any:
        if request.method == "POST":
            body = await _body(request)
            engine.paused = bool(body.get("paused", True))
        return {"paused": engine.paused}

    async def tick(request: Request) -> Any:
        body = await _body(request)
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
            raise ApiError(400, "count must be an integer from 1 to 1000")
        for _ in range(count):
            engine.tick()
        sim.hub.broadcast_market()
        return {"ticks": count, "marks": {s: fmt(m.mark) for s, m in engine.markets.items()}}

    async def funding(request: Request) -> Any:
        body = await _body(request)
        rate = None if body.get("rate") is None else parse_decimal(body.get("rate"), "rate")
        records = engine.settle_funding(body.get("symbol"), rate)
        return {"settled": [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]}

    async def limits(request: Request) -> Any:
        if request.method == "POST":
            return sim.limiter.configure(await _body(request))
        return sim.limiter.settings()

    async def faults(request: Request) -> Any:
        if request.method == "DELETE":
            sim.faults.clear(request.query_params.get("endpoint"))
            return {"faults": sim.faults.active()}
        if request.method == "POST":
            body = await _body(request)
            dropped = sim.hub.drop_all() if body.get("drop_ws") else 0
            keys = set(body) - {"drop_ws", "endpoint"}
            if keys or not body.get("drop_ws"):
                sim.faults.set(body)
            return {"faults": sim.faults.active(), "dropped_ws": dropped}
        return {"faults": sim.faults.active()}

    async def ledger(request: Request) -> Any:
        return views.ledger(engine, account_for(request.query_params.get("address")))

    async def demo(request: Request) -> Any:
        if sim.demo is None:
            raise ApiError(404, "no demo account: start with --scenario demo")
        return sim.demo

    async def symbols(request: Request) -> Any:
        return [
            {**spec.info(engine.markets[spec.symbol].status), "margin_tiers": spec.tiers_json()}
            for spec in SYMBOLS.values()
        ]

    async def state(request: Request) -> Any:
        return {
            "seed": sim.seed,
            "paused": engine.paused,
            "limits": sim.limiter.settings(),
            "faults": sim.faults.active(),
            "marks": {s: fmt(m.mark) for s, m in engine.markets.items()},
            "accounts": len(engine.accounts),
            "ws_connections": len(sim.hub.streams) + len(sim.hub.api_conns),
        }

    table = [
        ("/sim/accounts", accounts, ["POST"]),
        ("/sim/deposit", deposit, ["POST"]),
        ("/sim/withdraw", withdraw, ["POST"]),
        ("/sim/token", token, ["POST"]),
        ("/sim/price", price, ["POST"]),
        ("/sim/symbol-status", symbol_status, ["POST"]),
        ("/sim/scenario", scenario, ["POST"]),
        ("/sim/pause", pause, ["GET", "POST"]),
        ("/sim/tick", tick, ["POST"]),
        ("/sim/funding", funding, ["POST"]),
        ("/sim/limits", limits, ["GET", "POST"]),
        ("/sim/faults", faults, ["GET", "POST", "DELETE"]),
        ("/sim/ledger", ledger, ["GET"]),
        ("/sim/demo", demo, ["GET"]),
        ("/sim/symbols", symbols, ["GET"]),
        ("/sim/state", state, ["GET"]),
    ]
    return [Route(path, guarded(handler), methods=methods) for path, handler, methods in table]
