"""Cross-venue exposure per asset: tables of legs across venues and accounts."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from portfolio.domain.exposure import Leg, asset_of, concentration, exposures


def leg(venue: str, qty: str, *, asset: str = "BTC", mark: str = "60000", **more: object) -> Leg:
    fields: dict[str, object] = {
        "asset": asset,
        "venue": venue,
        "account": f"{venue} main",
        "symbol": f"{asset}-USD",
        "qty": D(qty),
        "contract_size": D(1),
        "mark": D(mark),
    }
    fields.update(more)
    return Leg(**fields)  # type: ignore[arg-type]


def test_a_long_here_and_a_short_there_is_one_hedged_asset() -> None:
    [btc] = exposures(
        [leg("standx", "0.5", distance_pct=D("12.5")), leg("perpex", "-0.5", distance_pct=D(4))]
    )
    assert (btc.long_notional, btc.short_notional) == (D(30000), D(30000))
    assert (btc.gross_notional, btc.net_notional, btc.net_units) == (D(60000), 0, 0)
    assert btc.hedged
    assert btc.hedge_ratio_pct == 100
    assert btc.breaks_first is not None
    assert btc.breaks_first.venue == "perpex"  # 4 % from liquidation: it goes first
    assert btc.venues == ("perpex", "standx")


@pytest.mark.parametrize(
    ("legs", "hedged"),
    [
        ([leg("standx", "1"), leg("standx", "2", account="other")], False),  # same side
        ([leg("standx", "1"), leg("perpex", "-0.25")], True),  # partly hedged
        ([leg("standx", "1")], False),  # alone
        # Both sides in one account of one venue is one netted position, not a hedge.
        ([leg("standx", "1", symbol="BTC-USD"), leg("standx", "-1", symbol="BTC-PERP")], False),
    ],
)
def test_it_calls_a_hedge_only_across_venues_or_accounts(legs: list[Leg], hedged: bool) -> None:
    [btc] = exposures(legs)
    assert btc.hedged is hedged
    assert (btc.breaks_first is None) is (not hedged or all(x.distance_pct is None for x in legs))


def test_the_net_figures_are_the_sums_of_the_legs() -> None:
    legs = [
        leg("standx", "0.3"),
        leg("perpex", "-0.1"),
        leg("ocx", "2", contract_size=D("0.01")),
        leg("standx", "-4", asset="ETH", mark="3000"),
    ]
    found = {e.asset: e for e in exposures(legs)}
    btc = found["BTC"]
    assert btc.net_units == D("0.3") - D("0.1") + D("0.02")
    assert btc.net_notional == btc.net_units * 60000
    assert btc.gross_notional == (D("0.3") + D("0.1") + D("0.02")) * 60000
    assert found["ETH"].net_notional == D(-12000)
    assert [e.asset for e in exposures(legs)] == ["BTC", "ETH"]  # largest gross first


def test_options_count_by_their_delta_and_an_unknown_delta_is_said() -> None:
    legs = [
        leg("standx", "-0.5"),
        leg("ocx", "10", symbol="BTC-C-70000", contract_size=D("0.1"), mark="1200", delta=D("0.4")),
        leg("ocx", "5", symbol="BTC-P-50000", contract_size=D("0.1"), mark="300", delta=None),
    ]
    [btc] = exposures(legs)
    assert btc.net_delta == D("-0.5") + D("0.4")  # 10 x 0.1 x 0.4
    assert btc.delta_missing == ("BTC-P-50000",)


@pytest.mark.parametrize(
    ("symbol", "underlying", "base", "asset"),
    [
        ("BTC-USD", "", "BTC", "BTC"),
        ("BTC-USDC-2026-12-25", "BTC", "BTC", "BTC"),
        ("eth_usdt", "", "", "ETH"),
    ],
)
def test_the_asset_is_the_instruments_underlying(
    symbol: str, underlying: str, base: str, asset: str
) -> None:
    assert asset_of(symbol, underlying, base) == asset


def test_the_concentration_index_of_one_asset_is_one_and_of_n_equal_ones_is_one_over_n() -> None:
    one = concentration([leg("standx", "1")], D(20000))
    assert one is not None
    assert (one.asset_index, one.venue_index, one.equal_assets) == (1, 1, 1)
    assert one.assets[0].heat_pct == 300  # 60,000 on 20,000 of equity
    even = concentration(
        [
            leg("standx", "1"),
            leg("perpex", "-20", asset="ETH", mark="3000"),
            leg("standx", "400", asset="SOL", mark="150"),
            leg("ocx", "-1"),
        ],
        D(100000),
    )
    assert even is not None
    # BTC 120,000 (a hedge counts both legs: gross, not net), ETH 60,000, SOL 60,000
    assert [(s.name, s.share_pct) for s in even.assets] == [("BTC", 50), ("ETH", 25), ("SOL", 25)]
    assert even.asset_index == D("0.375")  # 0.5² + 0.25² + 0.25²
    assert [(s.name, s.share_pct) for s in even.venues] == [
        ("standx", 50),
        ("ocx", 25),
        ("perpex", 25),
    ]
    assert concentration([], D(1000)) is None
    assert concentration([leg("standx", "1")], D(0)).assets[0].heat_pct is None  # type: ignore[union-attr]
