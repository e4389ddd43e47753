"""Risk formulas, table-driven, on the docs' own numbers (shared/docs/risk-metrics.md)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from portfolio.domain.risk import (
    AccountInput,
    PositionInput,
    account_risk,
    liquidation_price,
    position_risk,
    stress,
)

D = Decimal

# The isolated BTC long of the docs' query_positions example.
DOCS_HEALTH = D("3.993223845366698695025800014")
DOCS = PositionInput(
    symbol="BTC-USD",
    qty=D("0.940"),
    entry_price=D("121737.96"),
    mark_price=D("121715.05"),
    margin_mode="isolated",
    maint_margin=D("2860.30367500"),
    initial_margin=D("11443.36824"),
    holding_margin=D("11443.3682400"),
    leverage=D(10),
    exchange_liq_price=D("112373.50"),
    taker_fee=D("0.0004"),
    price_tick=D("0.01"),
)


def pct(value: Decimal | None, places: str = "0.01") -> Decimal:
    assert value is not None
    return value.quantize(D(places), rounding=ROUND_HALF_EVEN)


def test_the_docs_position_to_every_digit() -> None:
    risk = position_risk(DOCS)
    assert risk.notional == D("114412.14700")
    assert risk.upnl == D("-21.53540")
    assert risk.maint_rate == D("0.025")  # derived from the exchange's numbers, not a tier table
    assert risk.health == DOCS_HEALTH  # StandX's own mmr, to every digit
    assert risk.liq_price == D("112373.50")
    assert risk.bankruptcy_price == D("109608.01")
    assert risk.distance == D("9341.55")
    assert pct(risk.distance_pct) == D("7.67")
    assert pct(risk.effective_leverage) == D("10.02")
    assert risk.roe is not None
    assert pct(risk.roe * 100) == D("-0.19")
    assert risk.liq_divergence is False
    assert risk.side == "long"


def test_a_divergence_from_the_exchanges_liq_price_is_flagged() -> None:
    off = PositionInput(**{**DOCS.__dict__, "exchange_liq_price": D("110000")})
    assert position_risk(off).liq_divergence is True


@pytest.mark.parametrize(
    ("side", "size", "mark", "equity", "maint", "rate", "expected"),
    [
        # long: liq below the mark; short: above; both from liq = m - s(E - MM)/(q(1 - s r))
        (1, D(1), D(100), D(20), D(5), D("0.05"), D(100) - D(15) / D("0.95")),
        (-1, D(1), D(100), D(20), D(5), D("0.05"), D(100) + D(15) / D("1.05")),
        # already below maintenance: the liq price is on the other side of the mark
        (1, D(1), D(100), D(3), D(5), D("0.05"), D(100) + D(2) / D("0.95")),
        # so much margin that no positive price liquidates it
        (1, D(1), D(100), D(500), D(5), D("0.05"), None),
        (1, D(0), D(100), D(5), D(5), D("0.05"), None),
    ],
)
def test_liquidation_price(
    side: int,
    size: Decimal,
    mark: Decimal,
    equity: Decimal,
    maint: Decimal,
    rate: Decimal,
    expected: Decimal | None,
) -> None:
    got = liquidation_price(side=side, size=size, mark=mark, equity=equity, maint=maint, rate=rate)
    assert got == expected


def test_a_short_isolated_position_mirrors_the_long() -> None:
    short = PositionInput(
        symbol="ETH-USD",
        qty=D(-2),
        entry_price=D(3000),
        mark_price=D(3100),
        margin_mode="isolated",
        maint_margin=D(62),
        initial_margin=D(600),
        holding_margin=D(600),
    )
    risk = position_risk(short)
    assert risk.upnl == D(-200)
    assert risk.health == D(400) / D(62)
    # (entry_value + holding) / (q (1 + r)), r = 62 / 6200 = 0.01
    assert risk.liq_price == (D(6000) + D(600)) / (D(2) * D("1.01"))
    assert risk.distance is not None
    assert risk.distance > 0
    assert risk.side == "short"


CROSS_BTC = PositionInput(
    symbol="BTC-USD",
    qty=D("0.1"),
    entry_price=D(100000),
    mark_price=D(98000),
    margin_mode="cross",
    maint_margin=D(98),
    initial_margin=D(1000),
)
CROSS_ETH = PositionInput(
    symbol="ETH-USD",
    qty=D(-10),
    entry_price=D(3000),
    mark_price=D(3000),
    margin_mode="cross",
    maint_margin=D(300),
    initial_margin=D(3000),
)


def test_the_cross_bucket_shares_one_health() -> None:
    risk = account_risk(
        AccountInput(cross_balance=D(4000), cross_available=D(100)), [CROSS_BTC, CROSS_ETH, DOCS]
    )
    # cross equity = 4000 + (-200) + 0; cross MM = 98 + 300
    assert risk.cross_equity == D(3800)
    assert risk.cross_maint_margin == D(398)
    assert risk.cross_health == D(3800) / D(398)
    assert risk.margin_ratio_pct == D(398) / D(3800) * 100
    assert risk.equity == D(3800) + D("11443.3682400") + D("-21.53540")
    assert risk.worst_health == DOCS_HEALTH
    btc = next(
        p for p in risk.positions if p.symbol == "BTC-USD" and p.side == "long" and p.health is None
    )
    # The BTC liq with ETH held still: 98000 - (3800 - 398) / (0.1 (1 - 0.01))
    assert btc.liq_price == D(98000) - D(3402) / (D("0.1") * D("0.99"))
    exposure = {e.symbol: (e.long_notional, e.short_notional) for e in risk.exposure}
    assert exposure["ETH-USD"] == (D(0), D(30000))
    assert exposure["BTC-USD"][0] == D(9800) + DOCS.position_value


def test_stress_shows_what_liquidates() -> None:
    account = AccountInput(cross_balance=D(4000))
    calm = stress(account, [CROSS_BTC, CROSS_ETH, DOCS], {})
    assert calm.liquidated == ()
    # -8 % on BTC: the docs' isolated long (7.67 % away) goes; the cross bucket survives.
    btc_drop = stress(account, [CROSS_BTC, CROSS_ETH, DOCS], {"BTC-USD": D(-8)})
    assert btc_drop.liquidated == ("BTC-USD",)
    isolated = next(p for p in btc_drop.risk.positions if p.health is not None)
    assert isolated.health is not None
    assert isolated.health <= 1
    assert btc_drop.risk.cross_health is not None
    assert btc_drop.risk.cross_health > 1
    # +25 % on everything: the cross ETH short drags the whole bucket under.
    squeeze = stress(account, [CROSS_BTC, CROSS_ETH], {}, all_symbols=D(25))
    assert squeeze.liquidated == ("BTC-USD", "ETH-USD")
    assert squeeze.moves == {"BTC-USD": D(25), "ETH-USD": D(25)}


def test_an_account_without_positions_has_no_health() -> None:
    risk = account_risk(AccountInput(cross_balance=D(1000)), [])
    assert risk.cross_health is None
    assert risk.worst_health is None
    assert risk.effective_leverage is None
    assert risk.equity == D(1000)


@pytest.mark.parametrize(
    ("model", "exchange_liq", "maint", "liq", "source", "has_health", "estimated"),
    [
        # Computed (StandX): ours, cross-checked; the venue's figures are the inputs, not guesses.
        ("computed", D("112373.50"), D("2860.30367500"), D("112373.50"), "computed", True, False),
        # Reported (OCX): the venue's liquidation price is the truth, even where ours differs.
        ("reported", D("110000"), D("2860.30367500"), D("110000"), "reported", True, True),
        # Reported without a per-position maintenance margin (portfolio margin): no health.
        ("reported", D("110000"), D(0), D("110000"), "reported", False, True),
        # Hybrid (PerpEx): the venue's price where it gives one …
        ("hybrid", D("110000"), D("2860.30367500"), D("110000"), "reported", True, True),
        # … and ours where it gives none.
        ("hybrid", None, D("2860.30367500"), D("112373.50"), "computed", True, True),
    ],
)
def test_each_risk_model_says_whose_liquidation_price_it_shows(
    model: str,
    exchange_liq: Decimal | None,
    maint: Decimal,
    liq: Decimal,
    source: str,
    has_health: bool,
    estimated: bool,
) -> None:
    p = PositionInput(
        **{
            **DOCS.__dict__,
            "risk_model": model,
            "exchange_liq_price": exchange_liq,
            "maint_margin": maint,
        }
    )
    risk = position_risk(p)
    assert (risk.liq_price, risk.liq_source, risk.estimated) == (liq, source, estimated)
    assert (risk.health is not None) is has_health
    assert risk.distance == p.mark_price - liq  # from the latest mark, whoever gave the price
    assert risk.liq_divergence is False  # the docs agree; a reported price is not ours to check
