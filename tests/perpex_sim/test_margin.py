"""Margin arithmetic and the engine's rules, without a server (a pinned clock, exact Decimals)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from perpex_sim import margin
from perpex_sim.engine import Engine
from perpex_sim.errors import ApiError

D = Decimal


@pytest.mark.parametrize(
    ("max_leverage", "rate"),
    [(40, D("0.0125")), (25, D("0.02")), (20, D("0.025")), (10, D("0.05"))],
)
def test_maintenance_is_half_the_initial_margin_at_max_leverage(max_leverage: int, rate: D) -> None:
    assert margin.maintenance_rate(max_leverage) == rate


@pytest.mark.parametrize(
    ("size", "entry", "held", "rate", "price"),
    [
        # long 10 at 100 with 100 held (10x): equity 100 + 10(P-100) = 10 P r
        (D(10), D(100), D(100), D("0.025"), D(900) / D("9.75")),
        # short 10 at 100 with 100 held: 100 + 10(100-P) = 10 P r
        (D(-10), D(100), D(100), D("0.025"), D(1100) / D("10.25")),
        # 1x long: liquidation only near zero
        (D(1), D(100), D(100), D("0.05"), None),
    ],
)
def test_the_isolated_liquidation_price_leaves_equity_equal_to_maintenance(
    size: D, entry: D, held: D, rate: D, price: D | None
) -> None:
    found = margin.isolated_liquidation_price(size, entry, held, rate)
    assert found == price
    if found is not None:
        equity = held + margin.upnl(size, entry, found)
        assert equity == pytest.approx(margin.maintenance(size, found, rate))


@pytest.mark.parametrize(("size", "mark"), [(D(2), D(100)), (D(-3), D(50))])
def test_the_cross_liquidation_price_moves_equity_onto_maintenance(size: D, mark: D) -> None:
    equity, rate = D(40), D("0.05")
    maint = margin.maintenance(size, mark, rate)
    price = margin.cross_liquidation_price(size, mark, equity, maint, rate)
    assert price is not None
    moved = equity + size * (price - mark)
    assert moved == pytest.approx(margin.maintenance(size, price, rate))


@pytest.mark.parametrize(
    ("maint", "equity", "ratio"),
    [
        (D(0), D(10), None),
        (D(5), D(10), D("0.5")),
        (D(5), D(0), D("Infinity")),
        (D(5), D(-1), D("Infinity")),
    ],
)
def test_the_margin_ratio_is_maintenance_over_equity(maint: D, equity: D, ratio: D | None) -> None:
    assert margin.margin_ratio(maint, equity) == ratio


class Events:
    def __init__(self) -> None:
        self.positions: list[dict[str, Any]] = []

    def position_event(self, account_id: str, data: dict[str, Any]) -> None:
        self.positions.append(data)

    def public_trade(self, symbol: str, trade: dict[str, Any]) -> None:
        return None


@pytest.fixture
def engine() -> Engine:
    engine = Engine(seed=7, clock=lambda: datetime(2026, 1, 1, 12, tzinfo=UTC))
    engine.paused = True
    engine.sink = Events()
    return engine


def ledger_total(engine: Engine, account_id: str) -> D:
    return sum((D(c["amount"]) for c in engine.accounts[account_id].changes), D(0))


def test_an_isolated_position_holds_its_margin_and_is_liquidated_past_its_price(
    engine: Engine,
) -> None:
    engine.markets["SOL-USD"].set_price(D(180))
    alice = engine.create_account(D(1000))
    engine.place(
        alice,
        {
            "symbol": "SOL-USD",
            "side": "buy",
            "type": "market",
            "quantity": "10",
            "leverage": 10,
            "marginMode": "isolated",
        },
    )
    view = engine.account_view(alice)["positions"][0]
    assert (view["margin"], view["maintenanceMargin"]) == ("180.01", "45")
    liq = D(view["liquidationPrice"])
    assert liq == D("166.16")
    engine.markets["SOL-USD"].set_price(liq + D("0.2"))
    engine.after_price_change()
    events = engine.sink.positions  # type: ignore[attr-defined]
    assert events[-1]["event"] == "liquidation_warning"
    engine.markets["SOL-USD"].set_price(liq - D("0.2"))
    engine.after_price_change()
    kinds = [e["event"] for e in events if e["event"] != "update"]
    assert kinds == ["liquidation_warning", "liquidation"]  # warned once, then liquidated
    assert alice.open_positions() == []
    assert alice.balance == ledger_total(engine, alice.id)
    assert alice.balance > D(1000) - D("180.01") - D(2)  # lost about the margin, not more


def test_a_cross_account_is_liquidated_as_one_and_the_insurance_fund_covers_a_deficit(
    engine: Engine,
) -> None:
    engine.markets["BTC-USD"].set_price(D(100000))
    engine.markets["ETH-USD"].set_price(D(3500))
    bob = engine.create_account(D(1000))
    engine.place(
        bob,
        {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "0.1", "leverage": 20},
    )
    engine.place(
        bob,
        {"symbol": "ETH-USD", "side": "sell", "type": "market", "quantity": "1", "leverage": 20},
    )
    engine.markets["BTC-USD"].set_price(D(80000))  # a gap far past the liquidation price
    engine.after_price_change()
    kinds = [c["kind"] for c in bob.changes]
    assert bob.open_positions() == []
    assert "insurance_fund" in kinds
    assert bob.cash == 0
    assert bob.balance == ledger_total(engine, bob.id)
    liquidations = [o for o in bob.orders.values() if o.liquidation]
    assert {o.symbol for o in liquidations} == {"BTC-USD", "ETH-USD"}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (
            {"symbol": "DOGE-USD", "side": "buy", "type": "market", "quantity": "1"},
            "INVALID_SYMBOL",
        ),
        (
            {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "1", "leverage": 2},
            "INSUFFICIENT_MARGIN",
        ),
        (
            {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "0.00001"},
            "INVALID_ORDER",
        ),
        (
            {"symbol": "BTC-USD", "side": "buy", "type": "limit", "quantity": "0.001"},
            "INVALID_ORDER",
        ),
        (
            {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": 0.001},
            "INVALID_REQUEST",
        ),
        (
            {"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": "1", "leverage": 41},
            "INVALID_ORDER",
        ),
    ],
)
def test_a_bad_order_is_refused_with_its_code(
    engine: Engine, params: dict[str, Any], code: str
) -> None:
    alice = engine.create_account(D(1000))
    with pytest.raises(ApiError) as raised:
        engine.place(alice, params)
    assert raised.value.code == code
    assert alice.orders == {}


def test_funding_charges_longs_a_positive_rate_and_pays_shorts(engine: Engine) -> None:
    engine.markets["ETH-USD"].set_price(D(3000))
    alice, bob = engine.create_account(D(1000)), engine.create_account(D(1000))
    engine.place(alice, {"symbol": "ETH-USD", "side": "buy", "type": "market", "quantity": "1"})
    engine.place(
        bob,
        {
            "symbol": "ETH-USD",
            "side": "sell",
            "type": "market",
            "quantity": "1",
            "marginMode": "isolated",
        },
    )
    records = engine.settle_funding("ETH-USD", D("0.0001"))
    assert {r["account"]: r["payment"] for r in records} == {alice.id: "-0.3", bob.id: "0.3"}
    # Sold at the bid (2999.8) at 10x; isolated funding stays with the position's margin.
    assert bob.positions["ETH-USD"].margin == D("299.98") + D("0.3")
    assert alice.balance == ledger_total(engine, alice.id)
    assert bob.balance == ledger_total(engine, bob.id)


def test_a_seeded_engine_repeats_itself() -> None:
    def run() -> tuple[str, list[D]]:
        engine = Engine(seed=11, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
        account = engine.create_account(D(10))
        for _ in range(20):
            engine.tick()
        return account.id, [m.mark for m in engine.markets.values()]

    assert run() == run()
