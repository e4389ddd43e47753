"""Start-up scenarios for `--scenario NAME`.

`demo` (used by `make run`): one funded BSC account (10000 DUSD) holding a BTC long (cross, 10x),
an ETH short (cross, 10x, with TP/SL), a SOL long (isolated, 10x) and a resting BTC bid. A
`drift` scenario then walks SOL down 3.5 % over 120 s, so within the first two minutes the SOL
position sits about 2 % above its liquidation price (health near 1.35): risk alerts fire. The
random walk keeps every price moving, so the SOL position may later recover or be liquidated.
Credentials: `GET /sim/demo`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from standx_sim.control import create_account
from standx_sim.errors import ApiError
from standx_sim.state import Sim

SCENARIO_NAMES = ("none", "demo")


def start_scenario(sim: Sim, name: str | None) -> None:
    if not name or name == "none":
        return
    if name != "demo":
        raise ValueError(f"unknown scenario {name!r}; one of {', '.join(SCENARIO_NAMES)}")
    sim.demo = start_demo(sim)


def start_demo(sim: Sim) -> dict[str, Any]:
    engine = sim.engine
    creds = create_account(sim, "bsc", Decimal(10000))
    user = creds["user"]
    orders: list[dict[str, Any]] = [
        {
            "symbol": "BTC-USD",
            "side": "buy",
            "order_type": "market",
            "qty": "0.05",
            "time_in_force": "ioc",
            "reduce_only": False,
            "leverage": 10,
            "margin_mode": "cross",
        },
        {
            "symbol": "ETH-USD",
            "side": "sell",
            "order_type": "market",
            "qty": "1.000",
            "time_in_force": "ioc",
            "reduce_only": False,
            "leverage": 10,
            "margin_mode": "cross",
            "tp_price": "3150.00",
            "sl_price": "3850.00",
        },
        {
            "symbol": "SOL-USD",
            "side": "buy",
            "order_type": "market",
            "qty": "20",
            "time_in_force": "ioc",
            "reduce_only": False,
            "leverage": 10,
            "margin_mode": "isolated",
        },
    ]
    btc_mark = engine.markets["BTC-USD"].mark
    orders.append(
        {
            "symbol": "BTC-USD",
            "side": "buy",
            "order_type": "limit",
            "qty": "0.01",
            "price": str((btc_mark * Decimal("0.95")).quantize(Decimal("0.01"))),
            "time_in_force": "gtc",
            "reduce_only": False,
        }
    )
    for params in orders:
        try:
            engine.place_order(user, params)
        except ApiError as error:  # a demo that cannot place an order still runs
            print(f"standx_sim demo: order refused: {error.message}")
    market = engine.markets["SOL-USD"]
    market.start_scenario("drift", Decimal("-3.5"), 120, engine.engine_time())
    return creds
