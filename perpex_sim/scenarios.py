"""Start-up scenarios for ``--scenario NAME``.

``demo`` (for ``make run``): one account funded with 10,000 USDC holding a BTC long (cross, 5x),
an ETH short (cross, 5x), a SOL long (isolated, 10x) and a resting BTC bid 5 % under the mark.
SOL then drifts 7.3 % down over 180 s, to between the isolated SOL position's 0.8 warning ratio
(7.1 % under entry) and its liquidation price (7.7 % under): a ``liquidation_warning`` arrives on
the positions channel, and the random walk decides the rest. Credentials: ``GET /sim/demo``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from perpex_sim.control import create_account
from perpex_sim.errors import ApiError
from perpex_sim.state import Sim

SCENARIO_NAMES = ("none", "demo")


def start_scenario(sim: Sim, name: str | None) -> None:
    if not name or name == "none":
        return
    if name != "demo":
        raise ValueError(f"unknown scenario {name!r}; one of {', '.join(SCENARIO_NAMES)}")
    sim.demo = start_demo(sim)


def start_demo(sim: Sim) -> dict[str, Any]:
    engine = sim.engine
    creds = create_account(sim, {"deposit": "10000"})
    account = engine.account(creds["account_id"])
    btc = engine.markets["BTC-USD"]
    bid = (btc.mark * Decimal("0.95")).quantize(btc.spec.tick_size)
    orders: list[dict[str, Any]] = [
        {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "0.05", "leverage": 5},
        {"symbol": "ETH-USD", "side": "sell", "type": "market", "quantity": "1", "leverage": 5},
        {
            "symbol": "SOL-USD",
            "side": "buy",
            "type": "market",
            "quantity": "20",
            "leverage": 10,
            "marginMode": "isolated",
        },
        {
            "symbol": "BTC-USD",
            "side": "buy",
            "type": "limit",
            "quantity": "0.01",
            "price": str(bid),
        },
    ]
    for params in orders:
        try:
            engine.place(account, params)
        except ApiError as error:  # a demo that cannot place one order still runs
            print(f"perpex_sim demo: order refused: {error.message}")
    engine.markets["SOL-USD"].start_scenario("drift", Decimal("-7.3"), 180, engine.seconds)
    return creds
