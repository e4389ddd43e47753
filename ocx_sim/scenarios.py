"""Start-up scenarios for ``--scenario NAME``.

``demo`` (for ``make run``): one wallet with 10,000 USDC deposited, 6,000 of it moved to the
perps bucket, holding a BTC-PERP long, an ETH-PERP short with take-profit and stop-loss, a long
in the dated BTC future, and a resting SOL-PERP bid. Credentials: ``GET /sim/demo``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ocx_sim.control import create_account
from ocx_sim.errors import ApiError
from ocx_sim.state import Sim

SCENARIO_NAMES = ("none", "demo")


def start_scenario(sim: Sim, name: str | None) -> None:
    if not name or name == "none":
        return
    if name != "demo":
        raise ValueError(f"unknown scenario {name!r}; one of {', '.join(SCENARIO_NAMES)}")
    sim.demo = start_demo(sim)


def start_demo(sim: Sim) -> dict[str, Any]:
    engine = sim.engine
    creds = create_account(sim, Decimal(10000), Decimal(6000))
    account = engine.accounts[creds["user_id"]]
    future = next(m for m in engine.book.active() if m.market_type == "future")
    sol_bid = (engine.mark("SOL-PERP") * Decimal("0.95")).quantize(Decimal("0.001"))
    orders: list[dict[str, Any]] = [
        {"marketId": "BTC-PERP", "side": "buy", "type": "market", "quantity": "0.2"},
        {
            "marketId": "ETH-PERP",
            "side": "sell",
            "type": "market",
            "quantity": "2",
            "takeProfitPrice": "3150",
            "stopLossPrice": "3850",
        },
        {"marketId": future.market_id, "side": "buy", "type": "market", "quantity": "0.05"},
        {
            "marketId": "SOL-PERP",
            "side": "buy",
            "type": "limit",
            "quantity": "10",
            "price": str(sol_bid),
            "timeInForce": "gtc",
        },
    ]
    for body in orders:
        try:
            engine.place(account, body)
        except ApiError as error:  # a demo that cannot place an order still runs
            print(f"ocx_sim demo: order refused: {error.message}")
    return creds
