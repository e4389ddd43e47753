"""Every response parser against the docs' own examples."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from standx.errors import BadResponseError
from standx.models import (
    ActionResult,
    Balance,
    DepthBook,
    FundingRate,
    Order,
    Page,
    Position,
    PositionConfig,
    PublicTrade,
    SymbolInfo,
    SymbolMarket,
    SymbolPrice,
    Trade,
    parse_klines,
    parse_time,
)
from tests.standx import docs_examples as ex


def test_an_order_parses_with_decimals_and_no_fill_price_yet() -> None:
    order = Order.parse(ex.ORDER)
    assert order.id == 1820682
    assert order.cl_ord_id == "01K2BK4ZKQE0C308SRD39P8N9Z"
    assert order.price == Decimal("121900.00")
    assert order.qty == Decimal("0.060")
    assert order.fill_qty == 0
    assert order.fill_avg_price is None  # "0" means no fill yet
    assert order.leverage == Decimal(10)
    assert order.is_open and not order.is_liquidation
    assert order.created_at == datetime(2025, 8, 11, 3, 35, 25, 559151, tzinfo=UTC)


def test_status_new_and_open_mean_the_same() -> None:
    page = Page.parse(ex.ORDERS_PAGE, Order.parse)
    assert page.page_size == 1 and page.total == 1
    assert page.result[0].status == "open"


def test_a_liquidation_order_is_recognised_by_its_liq_id() -> None:
    assert Order.parse({**ex.ORDER, "liq_id": 77, "status": "filled"}).is_liquidation


def test_trades_parse_with_fee_and_pnl() -> None:
    page = Page.parse(ex.TRADES_PAGE, Trade.parse)
    trade = page.result[0]
    assert (trade.id, trade.order_id, trade.side) == (409870, 1820682, "sell")
    assert trade.fee_qty == Decimal("0.121900")
    assert trade.pnl == Decimal("1.62040")
    assert trade.value == Decimal("1219.00")


def test_a_bare_array_is_accepted_where_an_envelope_is_documented() -> None:
    page = Page.parse(ex.TRADES_PAGE["result"], Trade.parse)
    assert len(page.result) == 1 and page.total is None


def test_positions_keep_the_sign_of_qty() -> None:
    position = Position.parse(ex.POSITIONS[0])
    assert position.qty == Decimal("0.940") and position.side == "long"
    assert position.liq_price == Decimal("112373.50")
    assert position.mmr == Decimal("3.993223845366698695025800014")
    short = Position.parse({**ex.POSITIONS[0], "qty": "-0.116"})
    assert short.side == "short" and short.qty == Decimal("-0.116")


def test_a_zero_liq_price_means_none() -> None:
    assert Position.parse({**ex.POSITIONS[0], "liq_price": "0"}).liq_price is None


def test_position_config_leverage_may_be_an_int_or_a_string() -> None:
    assert PositionConfig.parse(ex.POSITION_CONFIG).leverage == Decimal(10)
    assert PositionConfig.parse({**ex.POSITION_CONFIG, "leverage": "10"}).leverage == Decimal(10)


def test_the_balance_has_every_documented_field() -> None:
    balance = Balance.parse(ex.BALANCE)
    assert balance.equity == Decimal("1100028.707476657")
    assert balance.cross_available == Decimal("1085746.571")
    assert balance.pnl_freeze == Decimal("31.61532")
    assert balance.funded
    assert not Balance.zero().funded and Balance.zero().equity == 0


def test_symbol_info_gives_ticks_and_limits() -> None:
    info = SymbolInfo.parse(ex.SYMBOL_INFO[0])
    assert info.price_tick == Decimal("0.01") and info.qty_tick == Decimal("0.001")
    assert info.max_leverage == Decimal(20) and info.max_open_orders == 100
    assert info.depth_ticks == (Decimal("0.01"), Decimal("0.1"), Decimal(1))
    assert info.price_cap_ratio == Decimal("0.3")


@pytest.mark.parametrize(
    ("extra", "status", "tradable"),
    [
        ({}, "trading", True),  # the docs' example has no status: treated as trading
        ({"status": "trading"}, "trading", True),
        ({"status": "halt"}, "halt", False),
        ({"status": "trading", "enabled": False}, "trading", False),
    ],
)
def test_symbol_info_status_decides_what_is_tradable(
    extra: dict[str, Any], status: str, tradable: bool
) -> None:
    info = SymbolInfo.parse({**ex.SYMBOL_INFO[0], **extra})
    assert (info.status, info.tradable) == (status, tradable)


def test_market_and_price_parse_and_tolerate_nulls() -> None:
    market = SymbolMarket.parse(ex.SYMBOL_MARKET)
    assert market.spread_bid == Decimal("121599.94") and market.spread_ask == Decimal("121600.04")
    assert market.next_funding_time == datetime(2025, 8, 11, 8, tzinfo=UTC)
    price = SymbolPrice.parse({**ex.SYMBOL_PRICE, "last_price": None, "spread_bid": None})
    assert price.last_price is None and price.mark_price == Decimal("121602.43")


def test_the_depth_book_is_sorted_locally() -> None:
    book = DepthBook.parse(ex.DEPTH_BOOK)
    assert [lv.price for lv in book.asks] == [Decimal("121895.81"), Decimal("121896.11")]
    assert [lv.price for lv in book.bids] == [Decimal("121884.31"), Decimal("121884.01")]
    assert book.best_bid is not None and book.best_bid.price == Decimal("121884.31")


def test_recent_trades_funding_rates_and_klines_parse() -> None:
    assert PublicTrade.parse(ex.RECENT_TRADES[0]).quote_qty == Decimal("1217.2018")
    assert FundingRate.parse(ex.FUNDING_RATES[0]).funding_rate == Decimal("0.0001")
    candles = parse_klines(ex.KLINES)
    assert len(candles) == 2
    # JSON numbers become Decimal through their text, never through float arithmetic.
    assert candles[1].close == Decimal("121903.04") and candles[1].volume == Decimal("10.542")
    assert parse_klines({"s": "no_data"}) == []


def test_an_action_result_and_the_bare_array_of_cancel_orders() -> None:
    assert ActionResult.parse(ex.ACTION).request_id == "xxx-xxx-xxx"
    assert ActionResult.parse([]).code == 0


@pytest.mark.parametrize(
    ("parser", "data"),
    [
        (Order.parse, {**ex.ORDER, "qty": "lots"}),
        (Order.parse, {k: v for k, v in ex.ORDER.items() if k != "id"}),
        (Position.parse, {**ex.POSITIONS[0], "qty": None}),
        (Balance.parse, ["not", "an", "object"]),
        (DepthBook.parse, {"symbol": "BTC-USD", "asks": [["1"]], "bids": []}),
        (SymbolMarket.parse, {**ex.SYMBOL_MARKET, "spread": "wide"}),
        (parse_klines, {**ex.KLINES, "c": [1]}),
        (Trade.parse, {**ex.TRADES_PAGE["result"][0], "created_at": "yesterday"}),
        (Order.parse, {**ex.ORDER, "price": "NaN"}),
    ],
)
def test_it_raises_bad_response_on_shapes_it_cannot_read(parser: object, data: object) -> None:
    with pytest.raises(BadResponseError):
        parser(data)  # type: ignore[operator]


def test_timestamps_accept_nanoseconds_and_epoch_numbers() -> None:
    assert parse_time("2025-08-11T03:35:25.559151123Z").microsecond == 559151
    assert parse_time(1754897028) == parse_time(1754897028000)
