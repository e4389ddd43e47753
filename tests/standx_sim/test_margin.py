"""Margin formulas: the docs' worked example (risk-metrics.md 3b) to every digit, and friends."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from standx_sim import margin, views
from standx_sim.engine import Engine, Position
from standx_sim.symbols import SYMBOLS

NOW = datetime(2025, 8, 11, 3, 41, 40, tzinfo=UTC)


def docs_position(engine: Engine) -> tuple[object, Position]:
    account = engine.ensure_account("bsc", "0xdocs", "bsc_0xdocs")
    engine.deposit(account, Decimal("1088575.259316737"))
    engine.set_price("BTC-USD", Decimal("121715.05"))
    position = Position(
        id=15,
        user=account.user,
        symbol="BTC-USD",
        margin_mode="isolated",
        leverage=10,
        created_at=NOW,
        updated_at=NOW,
        qty=Decimal("0.940"),
        entry_value=Decimal("0.940") * Decimal("121737.96"),
        holding_margin=Decimal("11443.3682400"),
        opened=True,
    )
    account.positions["BTC-USD"] = position
    return account, position


def test_it_reproduces_the_docs_position_to_every_digit() -> None:
    engine = Engine(seed=1, clock=lambda: NOW)
    account, position = docs_position(engine)
    view = views.position_view(engine, account, position)  # type: ignore[arg-type]
    assert view["bankruptcy_price"] == "109608.01"
    assert view["entry_price"] == "121737.96"
    assert view["entry_value"] == "114433.68240"
    assert Decimal(view["holding_margin"]) == Decimal("11443.3682400")
    assert view["initial_margin"] == "11443.36824"
    assert view["liq_price"] == "112373.50"
    assert view["maint_margin"] == "2860.30367500"
    assert view["mark_price"] == "121715.05"
    assert view["mmr"] == "3.993223845366698695025800014"
    assert view["position_value"] == "114412.14700"
    assert view["qty"] == "0.940"
    assert view["upnl"] == "-21.53540"
    assert view["leverage"] == "10"
    assert view["margin_mode"] == "isolated"


def test_the_btc_first_tier_rate_is_the_docs_implied_two_and_a_half_percent() -> None:
    spec = SYMBOLS["BTC-USD"]
    assert spec.tier_for(Decimal("114412.147")).maint_rate == Decimal("0.025")
    assert spec.tier_for(Decimal("5000000")).maint_rate == Decimal("0.05")


def test_a_short_isolated_liquidation_price_is_the_mirrored_closed_form() -> None:
    qty, entry_value, holding = Decimal("-2"), Decimal("7000"), Decimal("700")
    rate = Decimal("0.025")
    price = margin.isolated_price_at(qty, entry_value, holding, rate)
    assert price == (entry_value + holding) / (2 * (1 + rate))
    # At that price the scope equity equals the maintenance requirement exactly.
    equity = holding + margin.upnl(qty, entry_value, price)
    assert abs(equity - 2 * price * rate) < Decimal("1e-20")


def test_the_cross_formula_agrees_with_the_isolated_closed_form_for_one_position() -> None:
    qty, entry_value, holding = Decimal("0.940"), Decimal("114433.68240"), Decimal("11443.36824")
    mark, rate = Decimal("121715.05"), Decimal("0.025")
    equity = holding + margin.upnl(qty, entry_value, mark)
    maint = qty * mark * rate
    cross = margin.cross_price_at(qty, mark, equity, maint, rate)
    isolated = margin.isolated_price_at(qty, entry_value, holding, rate)
    assert abs(cross - isolated) < Decimal("1e-18")


def test_health_is_none_without_a_requirement() -> None:
    assert margin.health(Decimal(5), Decimal(0)) is None
    assert margin.display_price(Decimal("-3"), Decimal("0.01")) is None
