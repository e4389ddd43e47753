"""Order validation and preview: every rule with the message a trader reads, and random input."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.domain import fixes, risk
from portfolio.domain.order_rules import PositionState, SymbolRules, Ticket, preview, validate

SOL = SymbolRules(
    symbol="SOL-USD",
    price_tick_decimals=3,
    qty_tick_decimals=2,
    min_qty=D("0.01"),
    max_qty=D(5000),
    max_leverage=D(20),
    maker_fee=D("0.0001"),
    taker_fee=D("0.0004"),
    price_cap_ratio=D("0.3"),
    price_floor_ratio=D("0.3"),
)
MARK = D(100)
FLAT = PositionState()
LONG = PositionState(
    qty=D(10),
    entry_price=D(95),
    margin_mode="isolated",
    leverage=D(10),
    holding_margin=D(95),
    maint_margin=D(5),
    pending_reduce_only=D(4),
)


def ticket(**changes: object) -> Ticket:
    base: dict[str, object] = {
        "symbol": "SOL-USD",
        "side": "buy",
        "order_type": "limit",
        "qty": D(1),
        "price": D(99),
        "time_in_force": "gtc",
    }
    base.update(changes)
    return Ticket(**base)  # type: ignore[arg-type]


def test_a_sound_order_has_no_errors() -> None:
    assert validate(ticket(), SOL, FLAT, MARK) == {}


def test_it_takes_any_size_and_price_where_the_venue_publishes_no_limits() -> None:
    unbounded = dataclasses.replace(SOL, max_qty=None, price_cap_ratio=None, price_floor_ratio=None)
    for far in (ticket(qty=D(60000)), ticket(price=D(500)), ticket(price=D(1))):
        assert validate(far, unbounded, FLAT, MARK) == {}
        assert validate(far, SOL, FLAT, MARK) != {}


@pytest.mark.parametrize(
    ("changes", "position", "field", "message"),
    [
        ({"qty": D(0)}, FLAT, "qty", "Enter a quantity above zero."),
        ({"qty": D("0.001")}, FLAT, "qty", "Quantity goes in steps of 0.01 for SOL-USD."),
        ({"qty": D("6000")}, FLAT, "qty", "The largest order for SOL-USD is 5000."),
        ({"price": None}, FLAT, "price", "A limit order needs a price."),
        ({"price": D("99.0001")}, FLAT, "price", "Price goes in steps of 0.001 for SOL-USD."),
        (
            {"price": D(131)},
            FLAT,
            "price",
            "Price is more than 30 % above the mark (100): at most 130.",
        ),
        (
            {"price": D(69)},
            FLAT,
            "price",
            "Price is more than 30 % below the mark (100): at least 70.",
        ),
        (
            {"order_type": "market", "price": D(99)},
            FLAT,
            "price",
            "A market order takes no price; leave it empty or choose limit.",
        ),
        (
            {"order_type": "market", "price": None, "time_in_force": "alo"},
            FLAT,
            "time_in_force",
            "ALO (post-only) needs a limit order.",
        ),
        ({"leverage": 25}, FLAT, "leverage", "SOL-USD allows at most 20× leverage."),
        (
            {"leverage": 5},
            LONG,
            "leverage",
            "Your SOL-USD position is at 10×; an order must use the same leverage (change the "
            "position's leverage first).",
        ),
        (
            {"margin_mode": "cross"},
            LONG,
            "margin_mode",
            "Your SOL-USD position is isolated; an order must use the same margin mode.",
        ),
        ({"reduce_only": True}, FLAT, "reduce_only", "You hold no SOL-USD position to reduce."),
        (
            {"reduce_only": True, "side": "buy"},
            LONG,
            "side",
            "A reduce-only order against your long must sell.",
        ),
        (
            {"reduce_only": True, "side": "sell", "qty": D(7), "price": D(101)},
            LONG,
            "qty",
            "Reduce-only can be at most 6: your position of 10 minus 4 already in reduce-only "
            "orders.",
        ),
        ({"tp_price": D(98)}, FLAT, "tp_price", "Take-profit for a buy must be above 99."),
        ({"sl_price": D(100)}, FLAT, "sl_price", "Stop-loss for a buy must be below 99."),
        (
            {"side": "sell", "price": D(101), "tp_price": D(102)},
            FLAT,
            "tp_price",
            "Take-profit for a sell must be below 101.",
        ),
        (
            {"side": "sell", "price": D(101), "sl_price": D(100)},
            FLAT,
            "sl_price",
            "Stop-loss for a sell must be above 101.",
        ),
        ({"side": "hold"}, FLAT, "side", "Choose buy or sell."),
    ],
)
def test_each_rule_says_what_to_change(
    changes: dict[str, object], position: PositionState, field: str, message: str
) -> None:
    assert message in validate(ticket(**changes), SOL, position, MARK).get(field, [])


def test_the_smallest_quantity_is_named() -> None:
    rules = SymbolRules(**{**SOL.__dict__, "min_qty": D("0.5")})
    errors = validate(ticket(qty=D("0.1")), rules, FLAT, MARK)
    assert errors == {"qty": ["The smallest order for SOL-USD is 0.5."]}


def test_a_symbol_that_is_not_trading_refuses_every_order_in_plain_words() -> None:
    halted = SymbolRules(**{**SOL.__dict__, "status": "halt"})
    errors = validate(ticket(qty=D(0)), halted, LONG, MARK)
    assert errors == {
        "symbol": [
            "SOL-USD is not open for trading on StandX right now (its status is 'halt'), so no "
            "order can be placed in it. Positions you hold there still show in your portfolio."
        ]
    }


def test_a_reduce_only_order_within_the_room_passes() -> None:
    assert (
        validate(ticket(reduce_only=True, side="sell", qty=D(6), price=D(101)), SOL, LONG, MARK)
        == {}
    )


def test_the_preview_of_a_new_isolated_long() -> None:
    p = preview(
        ticket(qty=D(10), price=D(100), leverage=10, margin_mode="isolated"),
        SOL,
        FLAT,
        MARK,
        risk.AccountInput(cross_balance=D(1000)),
        [],
    )
    assert p.notional == D(1000)
    assert p.initial_margin == D(100)
    assert p.fee == D("0.1000")  # maker: a resting GTC limit
    assert p.fee_kind == "maker"
    assert p.position_qty == D(10)
    assert p.position_entry == D(100)
    # 100 margin, 0.5 % maintenance: liquidates where 100 + 10 (P - 100) = 0.05 P x 10.
    assert p.liq_price == D("90.452")
    assert p.health == D(20)


def test_the_preview_of_a_market_order_pays_taker_and_averages_the_entry() -> None:
    p = preview(
        ticket(order_type="market", price=None, qty=D(10), time_in_force="ioc"),
        SOL,
        LONG,
        MARK,
        risk.AccountInput(cross_balance=D(1000)),
        [],
    )
    assert p.fee_kind == "taker"
    assert p.fee == D("0.4000")
    assert p.position_qty == D(20)
    assert p.position_entry == D("97.5")


def test_closing_the_whole_position_previews_flat() -> None:
    p = preview(
        ticket(
            side="sell",
            order_type="market",
            price=None,
            qty=D(10),
            reduce_only=True,
            time_in_force="ioc",
        ),
        SOL,
        LONG,
        MARK,
        risk.AccountInput(cross_balance=D(1000)),
        [],
    )
    assert p.position_qty == 0
    assert p.liq_price is None


decimals = st.one_of(
    st.none(),
    st.decimals(min_value=D("-1e6"), max_value=D("1e9"), allow_nan=False, allow_infinity=False),
)


@settings(max_examples=300, deadline=None)
@given(
    side=st.sampled_from(["buy", "sell", "", "hold"]),
    order_type=st.sampled_from(["limit", "market", "stop"]),
    qty=st.decimals(min_value=D("-1e6"), max_value=D("1e9"), allow_nan=False, allow_infinity=False),
    price=decimals,
    tif=st.sampled_from(["gtc", "ioc", "alo", "fok"]),
    reduce_only=st.booleans(),
    tp=decimals,
    sl=decimals,
    leverage=st.one_of(st.none(), st.integers(-5, 200)),
    mode=st.sampled_from([None, "cross", "isolated", "portfolio"]),
    position=st.sampled_from([FLAT, LONG]),
)
def test_random_tickets_always_get_a_verdict_never_an_exception(
    side: str,
    order_type: str,
    qty: D,
    price: D | None,
    tif: str,
    reduce_only: bool,
    tp: D | None,
    sl: D | None,
    leverage: int | None,
    mode: str | None,
    position: PositionState,
) -> None:
    t = Ticket("SOL-USD", side, order_type, qty, price, tif, reduce_only, tp, sl, leverage, mode)
    errors = validate(t, SOL, position, MARK)
    assert all(isinstance(m, str) and m.endswith(".") for ms in errors.values() for m in ms)
    if not errors:
        result = preview(t, SOL, position, MARK, risk.AccountInput(cross_balance=D(1000)), [])
        assert result.notional >= 0


def test_a_reduce_previews_the_health_the_fix_promises() -> None:
    # A losing cross long: the closed share's loss and the fee leave the wallet, so the bucket's
    # equity only loses the fee (the preview once counted the realized loss as recovered).
    cross = PositionState(
        qty=D(20), entry_price=D(110), margin_mode="cross", leverage=D(10), maint_margin=D(100)
    )
    account = risk.AccountInput(cross_balance=D(400))
    reduce = ticket(
        side="sell",
        order_type="market",
        price=None,
        qty=D("10.4"),
        reduce_only=True,
        time_in_force="ioc",
    )
    p = preview(reduce, SOL, cross, MARK, account, [])
    held = risk.PositionInput(
        symbol="SOL-USD",
        qty=D(20),
        entry_price=D(110),
        mark_price=MARK,
        margin_mode="cross",
        maint_margin=D(100),
    )
    wallet, after = fixes.reduced(account, [held], 0, D("10.4"), SOL.taker_fee)
    assert p.health == risk.account_risk(wallet, after).cross_health
    # 400 - 200 - 10.4 x 100 x 0.0004 = 199.584 over 9.6 x 100 x 0.05 = 48
    assert p.health == D("199.584") / D(48)


def test_reducing_an_isolated_position_returns_its_margin_share_to_the_wallet() -> None:
    p = preview(
        ticket(
            side="sell",
            order_type="market",
            price=None,
            qty=D(5),
            reduce_only=True,
            time_in_force="ioc",
        ),
        SOL,
        LONG,
        MARK,
        risk.AccountInput(cross_balance=D(0)),
        [],
    )
    # Half the holding margin goes with half the maintenance margin: health is unchanged.
    assert p.health == (D(95) + 10 * (MARK - 95)) / 5
