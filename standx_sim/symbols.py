"""Listed symbols: ticks, limits, fees and maintenance-margin tiers.

`query_symbol_info` items carry `"status": "trading"` although the docs' example has no such
field: public clients that trade live keep only the symbols whose `status` is `trading`, so
without it they see no market at all. A delisted or halted symbol is simulated with another
status (`POST /sim/symbol-status`); the engine then refuses new orders on it.

Tier rule: within a tier, the maintenance rate is half the initial margin at the tier's maximum
leverage (1 / (2 * max_leverage)). For BTC-USD's first tier (20x) that gives 2.5 %, the rate the
docs' own `query_positions` example implies (risk-metrics.md 3b), so the engine reproduces that
example to every digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from standx_sim.errors import ApiError


@dataclass(frozen=True)
class Tier:
    max_notional: Decimal  # upper bound (inclusive) of position value at mark for this tier
    max_leverage: int
    maint_rate: Decimal


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    base: str
    start_price: Decimal
    price_tick_decimals: int
    qty_tick_decimals: int
    min_order_qty: Decimal
    max_order_qty: Decimal
    max_position_size: Decimal
    max_leverage: int
    def_leverage: int
    maker_fee: Decimal
    taker_fee: Decimal
    depth_ticks: str
    tiers: tuple[Tier, ...]
    # Standard deviation of one tick's log return of the index walk (2 ticks/s by default).
    volatility: Decimal
    synthetic_open_interest: Decimal
    quote: str = "DUSD"
    base_decimals: int = 9
    quote_decimals: int = 9
    price_cap_ratio: Decimal = Decimal("0.3")
    price_floor_ratio: Decimal = Decimal("0.3")
    max_open_orders: int = 100
    created_at: str = "2025-07-10T05:15:32.089568Z"

    @property
    def price_tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.price_tick_decimals)

    @property
    def qty_tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.qty_tick_decimals)

    def tier_for(self, notional: Decimal) -> Tier:
        for tier in self.tiers:
            if notional <= tier.max_notional:
                return tier
        return self.tiers[-1]

    def info(self, status: str = "trading") -> dict[str, Any]:
        """The `query_symbol_info` item: the docs' fields plus the live `status`."""
        return {
            "base_asset": self.base,
            "base_decimals": self.base_decimals,
            "created_at": self.created_at,
            "def_leverage": str(self.def_leverage),
            "depth_ticks": self.depth_ticks,
            "enabled": True,
            "maker_fee": str(self.maker_fee),
            "max_leverage": str(self.max_leverage),
            "max_open_orders": str(self.max_open_orders),
            "max_order_qty": str(self.max_order_qty),
            "max_position_size": str(self.max_position_size),
            "min_order_qty": str(self.min_order_qty),
            "price_cap_ratio": str(self.price_cap_ratio),
            "price_floor_ratio": str(self.price_floor_ratio),
            "price_tick_decimals": self.price_tick_decimals,
            "qty_tick_decimals": self.qty_tick_decimals,
            "quote_asset": self.quote,
            "quote_decimals": self.quote_decimals,
            "status": status,
            "symbol": self.symbol,
            "taker_fee": str(self.taker_fee),
            "updated_at": self.created_at,
        }

    def tiers_json(self) -> list[dict[str, str]]:
        return [
            {
                "max_notional": str(t.max_notional),
                "max_leverage": str(t.max_leverage),
                "maint_rate": str(t.maint_rate),
            }
            for t in self.tiers
        ]


def _tiers(*rows: tuple[str, int]) -> tuple[Tier, ...]:
    return tuple(Tier(Decimal(cap), lev, Decimal(1) / Decimal(2 * lev)) for cap, lev in rows)


SYMBOLS: dict[str, SymbolSpec] = {
    spec.symbol: spec
    for spec in (
        SymbolSpec(
            symbol="BTC-USD",
            base="BTC",
            start_price=Decimal("100000.00"),
            price_tick_decimals=2,
            qty_tick_decimals=3,
            min_order_qty=Decimal("0.001"),
            max_order_qty=Decimal("100"),
            max_position_size=Decimal("1000"),
            max_leverage=20,
            def_leverage=10,
            maker_fee=Decimal("0.0001"),
            taker_fee=Decimal("0.0004"),
            depth_ticks="0.01,0.1,1",
            tiers=_tiers(("1000000", 20), ("10000000", 10), ("100000000", 5), ("500000000", 2)),
            volatility=Decimal("0.0002"),
            synthetic_open_interest=Decimal("15.948"),
        ),
        SymbolSpec(
            symbol="ETH-USD",
            base="ETH",
            start_price=Decimal("3500.00"),
            price_tick_decimals=2,
            qty_tick_decimals=3,
            min_order_qty=Decimal("0.01"),
            max_order_qty=Decimal("1000"),
            max_position_size=Decimal("10000"),
            max_leverage=20,
            def_leverage=10,
            maker_fee=Decimal("0.0001"),
            taker_fee=Decimal("0.0004"),
            depth_ticks="0.01,0.1,1",
            tiers=_tiers(("500000", 20), ("5000000", 10), ("50000000", 5), ("250000000", 2)),
            volatility=Decimal("0.00025"),
            synthetic_open_interest=Decimal("412.37"),
        ),
        SymbolSpec(
            symbol="SOL-USD",
            base="SOL",
            start_price=Decimal("180.000"),
            price_tick_decimals=3,
            qty_tick_decimals=2,
            min_order_qty=Decimal("0.1"),
            max_order_qty=Decimal("50000"),
            max_position_size=Decimal("500000"),
            max_leverage=10,
            def_leverage=5,
            maker_fee=Decimal("0.0001"),
            taker_fee=Decimal("0.0004"),
            depth_ticks="0.001,0.01,0.1",
            tiers=_tiers(("250000", 10), ("2500000", 5), ("25000000", 2)),
            volatility=Decimal("0.0003"),
            synthetic_open_interest=Decimal("8120.55"),
        ),
        SymbolSpec(
            symbol="XAU-USD",
            base="XAU",
            start_price=Decimal("3300.00"),
            price_tick_decimals=2,
            qty_tick_decimals=3,
            min_order_qty=Decimal("0.01"),
            max_order_qty=Decimal("1000"),
            max_position_size=Decimal("10000"),
            max_leverage=20,
            def_leverage=10,
            maker_fee=Decimal("0.0001"),
            taker_fee=Decimal("0.0004"),
            depth_ticks="0.01,0.1,1",
            tiers=_tiers(("500000", 20), ("5000000", 10), ("50000000", 5)),
            volatility=Decimal("0.0001"),
            synthetic_open_interest=Decimal("96.402"),
        ),
    )
}


def get_symbol(symbol: Any) -> SymbolSpec:
    if not symbol:
        raise ApiError(400, "symbol is required")
    spec = SYMBOLS.get(symbol) if isinstance(symbol, str) else None
    if spec is None:
        raise ApiError(400, f"unknown symbol: {symbol}")
    return spec
