"""The fix, computed: tables per risk model, each checked against the risk engine itself.

For every suggested action the engine's health after it is at least the clear level, and one lot
(or one money step) less would leave it below: the smallest action, never below, not far above.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from portfolio.domain import risk
from portfolio.domain.fixes import (
    ADD_MARGIN,
    CLOSE,
    REDUCE,
    TRANSFER,
    Fix,
    Lot,
    Offers,
    fixes,
    reduced,
)

D = Decimal
WARNING, TARGET = D(2), D("2.3")
MODELS = [risk.COMPUTED, risk.REPORTED, risk.HYBRID]
SOL_LOT = Lot(step=D("0.1"), min_qty=D("0.1"), taker_fee=D("0.0005"))
BTC_LOT = Lot(step=D("0.001"), min_qty=D("0.001"), taker_fee=D("0.0004"))
LOTS = {"SOL-USD": SOL_LOT, "BTC-USD": BTC_LOT}
STANDX = Offers(add_isolated_margin=True)
OCX = Offers(bucket_transfer=True)
NOTHING = Offers()


def sol(qty: str, *, model: str = risk.COMPUTED, **changes: object) -> risk.PositionInput:
    """A SOL-USD position at mark 90, 5 % maintenance (health is set by the balance)."""
    size = abs(D(qty))
    p = risk.PositionInput(
        symbol="SOL-USD",
        qty=D(qty),
        entry_price=D(100),
        mark_price=D(90),
        margin_mode="cross",
        maint_margin=size * 90 * D("0.05"),
        initial_margin=size * 10,
        leverage=D(10),
        exchange_liq_price=D("95.5") if model != risk.COMPUTED else None,
        price_tick=D("0.01"),
        risk_model=model,
    )
    return replace(p, **changes)  # type: ignore[arg-type]


def btc(qty: str, *, model: str = risk.COMPUTED) -> risk.PositionInput:
    size = abs(D(qty))
    return risk.PositionInput(
        symbol="BTC-USD",
        qty=D(qty),
        entry_price=D(60000),
        mark_price=D(61000),
        margin_mode="cross",
        maint_margin=size * 61000 * D("0.01"),
        price_tick=D("0.1"),
        risk_model=model,
    )


def health_after_reduce(
    account: risk.AccountInput, positions: list[risk.PositionInput], symbol: str, qty: Decimal
) -> Decimal | None:
    index = next(i for i, p in enumerate(positions) if p.symbol == symbol)
    lot = LOTS[symbol]
    return risk.account_risk(*reduced(account, positions, index, qty, lot.taker_fee)).cross_health


def run(
    balance: Decimal, held: list[risk.PositionInput], *, lots: dict[str, Lot], offers: Offers
) -> dict[str, Fix]:
    account = risk.AccountInput(cross_balance=balance)
    return fixes(account, held, warning=WARNING, target=TARGET, lots=lots, offers=offers)


def only(result: dict[str, Fix], symbol: str, kind: str) -> tuple[Fix, Decimal]:
    fix = result[symbol]
    action = next(a for a in fix.actions if a.kind == kind)
    return fix, action.amount


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("balance", "positions", "symbol"),
    [
        # One losing cross long: health 100 / 90 = 1.11, critical.
        ("300", lambda m: [sol("20", model=m)], "SOL-USD"),
        # A short in the same bucket, winning: 2 x 10 = 20 of uPnL.
        ("150", lambda m: [sol("-20", model=m, entry_price=D(91))], "SOL-USD"),
        # Two positions share the bucket: reduce the BTC long alone …
        ("250", lambda m: [btc("0.5", model=m), sol("20", model=m)], "BTC-USD"),
        # … or, where BTC weighs less, the SOL one.
        ("250", lambda m: [btc("0.1", model=m), sol("20", model=m)], "SOL-USD"),
    ],
)
def test_it_reduces_a_cross_position_by_the_fewest_lots_that_reach_the_clear_level(
    model: str, balance: str, positions: object, symbol: str
) -> None:
    account = risk.AccountInput(cross_balance=D(balance))
    held = positions(model)  # type: ignore[operator]
    assert risk.account_risk(account, held).cross_health < WARNING  # type: ignore[operator]
    fix, qty = only(
        fixes(account, held, warning=WARNING, target=TARGET, lots=LOTS, offers=NOTHING),
        symbol,
        REDUCE,
    )
    step = LOTS[symbol].step
    assert qty % step == 0
    after = health_after_reduce(account, held, symbol, qty)
    assert after is not None
    assert after >= TARGET
    assert health_after_reduce(account, held, symbol, qty - step) < TARGET  # type: ignore[operator]
    action = fix.actions[0]
    assert action.health == after
    assert action.side == ("sell" if next(p for p in held if p.symbol == symbol).qty > 0 else "buy")
    # The resulting liquidation price is the engine's for the reduced state, ours not the venue's.
    index = next(i for i, p in enumerate(held) if p.symbol == symbol)
    moved = risk.account_risk(*reduced(account, held, index, qty, LOTS[symbol].taker_fee))
    assert action.liq_price == moved.positions[index].liq_price  # None: no price reaches it
    assert action.distance_pct == moved.positions[index].distance_pct
    assert fix.margin_mode == "cross"
    assert fix.target == TARGET


def test_the_worked_example_reduces_sol_by_10_4() -> None:
    # E = 300 - 200 = 100, MM = 90: q >= (2.3 x 90 - 100) / (90 (2.3 x 0.05 - 0.0005)) = 10.38
    result = run(D(300), [sol("20")], lots=LOTS, offers=NOTHING)
    action = result["SOL-USD"].actions[0]
    assert (action.kind, action.amount, action.side) == (REDUCE, D("10.4"), "sell")
    # 100 - 10.4 x 90 x 0.0005 = 99.532 over 9.6 x 4.5 = 43.2
    assert action.health == D("99.532") / D("43.2")
    assert result["SOL-USD"].health == D(100) / D(90)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("qty", ["20", "-20"])
def test_it_adds_just_enough_isolated_margin(model: str, qty: str) -> None:
    entry = D(100) if D(qty) > 0 else D(80)  # both losing 200 at the mark of 90
    p = sol(qty, model=model, margin_mode="isolated", holding_margin=D(300), entry_price=entry)
    account = risk.AccountInput(cross_balance=D(10000))
    result = fixes(account, [p], warning=WARNING, target=TARGET, lots=LOTS, offers=STANDX)
    fix, amount = only(result, "SOL-USD", ADD_MARGIN)
    assert fix.margin_mode == "isolated"
    assert [a.kind for a in fix.actions] == [ADD_MARGIN]  # a reduce would not move its health

    def health(extra: Decimal) -> Decimal | None:
        moved = replace(p, holding_margin=D(300) + extra, exchange_liq_price=None)
        return risk.position_risk(moved).health

    assert health(amount) >= TARGET  # type: ignore[operator]
    assert health(amount - D("0.01")) < TARGET  # type: ignore[operator]
    assert fix.actions[0].health == health(amount)
    assert fix.actions[0].liq_price is not None
    assert fix.actions[0].distance_pct is not None
    assert fix.actions[0].distance_pct > 0


@pytest.mark.parametrize("model", MODELS)
def test_it_offers_a_transfer_into_the_cross_bucket_where_the_venue_allows(model: str) -> None:
    account = risk.AccountInput(cross_balance=D(300))
    result = fixes(
        account, [sol("20", model=model)], warning=WARNING, target=TARGET, lots=LOTS, offers=OCX
    )
    fix, amount = only(result, "SOL-USD", TRANSFER)
    # E = 100, MM = 90: 2.3 x 90 - 100 = 107 exactly
    assert amount == D(107)
    assert fix.actions[-1].health == TARGET
    less = risk.account_risk(
        replace(account, cross_balance=D(300) + amount - D("0.01")), [sol("20", model=model)]
    )
    assert less.cross_health < TARGET  # type: ignore[operator]
    assert [a.kind for a in fix.actions] == [REDUCE, TRANSFER]


def test_it_offers_only_what_the_venue_allows() -> None:
    isolated = sol("20", margin_mode="isolated", holding_margin=D(300))
    result = run(D(0), [isolated], lots=LOTS, offers=NOTHING)
    assert result["SOL-USD"].actions == ()  # said on the page: nothing on its own fixes it


def test_reducing_an_isolated_position_or_lowering_leverage_leaves_its_health_alone() -> None:
    # Why neither is ever offered: the engine's health does not move.
    isolated = sol("20", margin_mode="isolated", holding_margin=D(300))
    account = risk.AccountInput(cross_balance=D(0))
    before = risk.position_risk(isolated)
    _, after = reduced(account, [isolated], 0, D(10))
    assert risk.position_risk(after[0]).health == before.health
    assert risk.position_risk(after[0]).liq_price == before.liq_price
    assert risk.position_risk(replace(isolated, leverage=D(2))).health == before.health


def test_it_closes_when_only_the_whole_position_reaches_the_target() -> None:
    # E = 201.5 - 200 = 1.5, alone in the bucket: even 19.9 of 20 leaves 0.6 / 0.45 = 1.34.
    account = risk.AccountInput(cross_balance=D("201.5"))
    result = fixes(account, [sol("20")], warning=WARNING, target=TARGET, lots=LOTS, offers=NOTHING)
    action = result["SOL-USD"].actions[0]
    assert (action.kind, action.amount, action.health) == (CLOSE, D(20), None)


def test_it_suggests_nothing_when_even_a_close_leaves_the_bucket_below() -> None:
    # The BTC long alone keeps the bucket under water after SOL is closed.
    account = risk.AccountInput(cross_balance=D(200))
    held = [btc("1"), sol("2")]
    result = fixes(account, held, warning=WARNING, target=TARGET, lots=LOTS, offers=NOTHING)
    assert result["SOL-USD"].actions == ()
    assert result["BTC-USD"].actions[0].kind == REDUCE


def test_a_reduce_is_at_least_the_minimum_order() -> None:
    big_min = {"SOL-USD": replace(SOL_LOT, min_qty=D(15))}
    result = run(D(300), [sol("20")], lots=big_min, offers=NOTHING)
    assert result["SOL-USD"].actions[0].amount == D(15)


def test_a_symbol_without_lot_data_gets_no_reduce() -> None:
    result = run(D(300), [sol("20")], lots={}, offers=NOTHING)
    assert result["SOL-USD"].actions == ()


def test_healthy_positions_get_no_fix() -> None:
    result = run(D(10000), [sol("20"), btc("0.1")], lots=LOTS, offers=OCX)
    assert result == {}


def test_reduced_books_the_pnl_less_the_fee_into_the_wallet() -> None:
    account, after = reduced(
        risk.AccountInput(cross_balance=D(300)), [sol("20")], 0, D(5), D("0.0005")
    )
    # realized 5 x (90 - 100) = -50, fee 5 x 90 x 0.0005 = 0.225
    assert account.cross_balance == D("249.775")
    assert after[0].qty == D(15)
    assert after[0].maint_margin == D("67.5")
    assert after[0].exchange_liq_price is None
    assert risk.account_risk(account, after).cross_equity == D(100) - D("0.225")
