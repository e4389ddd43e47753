"""Tolerant parsing: the shapes PerpEx might answer with, bare or enveloped, and its errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from perpex import errors
from perpex.keys import ApiKey
from perpex.models import (
    Account,
    BatchResult,
    Candle,
    Fill,
    Market,
    Order,
    OrderBook,
    Position,
    TradesPage,
    error_fields,
)
from perpex.ratelimit import NoRateLimit
from perpex.rest import PerpExClient
from tests.perpex.test_keys import jwt

MARKET = {"symbol": "BTC-USD", "tickSize": "1", "lotSize": "0.0001", "maxLeverage": 40}


@pytest.mark.parametrize(
    "body",
    [
        MARKET,
        {"data": MARKET},
        {"result": MARKET},
        {"symbol": "BTC-USD", "tick_size": 1, "lot_size": "0.0001", "max_leverage": "40"},
        {"name": "BTC-USD", "pxDecimals": 0, "szDecimals": 4, "maxLeverage": 40},
    ],
)
def test_a_market_reads_the_same_bare_enveloped_or_in_other_spellings(body: Any) -> None:
    market = Market.parse(body)
    assert (market.symbol, market.tick_size, market.lot_size, market.max_leverage) == (
        "BTC-USD",
        Decimal(1),
        Decimal("0.0001"),
        Decimal(40),
    )
    assert market.maintenance_margin_rate == Decimal("0.0125")  # half of 1/40


@pytest.mark.parametrize(
    ("body", "size"),
    [
        ({"symbol": "SOL-USD", "side": "long", "size": "2", "entryPrice": "150"}, Decimal(2)),
        ({"symbol": "SOL-USD", "side": "short", "size": "2", "entryPrice": "150"}, Decimal(-2)),
        ({"symbol": "SOL-USD", "side": "sell", "quantity": 2, "entry_price": 150}, Decimal(-2)),
        ({"coin": "SOL-USD", "szi": "-2", "entryPx": "150"}, Decimal(-2)),
        (
            {
                "type": "oneWay",
                "position": {
                    "coin": "SOL-USD",
                    "szi": "2",
                    "entryPx": "150",
                    "leverage": {"type": "isolated", "value": 5},
                },
            },
            Decimal(2),
        ),
    ],
)
def test_a_position_reads_a_side_and_size_or_a_signed_size(body: Any, size: Decimal) -> None:
    position = Position.parse(body)
    assert (position.symbol, position.size, position.entry_price) == ("SOL-USD", size, 150)


def test_hyperliquid_style_leverage_carries_the_margin_mode() -> None:
    position = Position.parse(
        {"position": {"coin": "ETH", "szi": "1", "leverage": {"type": "isolated", "value": 5}}}
    )
    assert (position.leverage, position.margin_mode) == (5, "isolated")


def test_an_account_without_margin_block_reads_its_top_level_fields() -> None:
    account = Account.parse(
        {
            "data": {
                "accountId": "a1",
                "balance": {"asset": "USDC", "total": "100"},
                "equity": "105",
                "positions": [{"symbol": "X", "size": "0"}],
            }
        }
    )
    assert account.account_id == "a1"
    assert account.balances[0].total == Decimal(100)
    assert account.margin.equity == Decimal(105)
    assert account.positions == ()  # a flat position is not a position


@pytest.mark.parametrize(
    "body",
    [
        {"bids": [["99", "1"]], "asks": [["101", "2"]]},
        {"data": {"bids": [{"price": "99", "size": "1"}], "asks": [{"px": 101, "sz": 2}]}},
        {"levels": [[{"px": "99", "sz": "1"}], [{"px": "101", "sz": "2"}]]},
    ],
)
def test_a_book_reads_pairs_objects_or_hyperliquid_levels(body: Any) -> None:
    book = OrderBook.parse(body, "BTC-USD")
    assert (book.symbol, book.bids[0].price, book.asks[0].size) == ("BTC-USD", 99, 2)


@pytest.mark.parametrize(
    ("status", "normalized"),
    [
        ("NEW", "open"),
        ("partially_filled", "open"),
        ("Cancelled", "canceled"),
        ("filled", "filled"),
    ],
)
def test_order_statuses_are_normalized(status: str, normalized: str) -> None:
    order = Order.parse(
        {"orderId": 7, "symbol": "BTC-USD", "side": "BUY", "size": "1", "status": status}
    )
    assert (order.id, order.side, order.status) == ("7", "buy", normalized)


@pytest.mark.parametrize(
    "moment",
    [1767225600000, 1767225600, "1767225600000", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00"],
)
def test_times_are_read_as_milliseconds_seconds_or_iso(moment: Any) -> None:
    fill = Fill.parse(
        {"id": "f", "symbol": "X", "side": "buy", "price": "1", "quantity": "1", "time": moment}
    )
    assert fill.time == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_fill_without_an_id_gets_the_same_id_every_time() -> None:
    raw = {"orderId": "9", "symbol": "X", "side": "sell", "px": "2", "sz": "3", "time": 1}
    assert Fill.parse(raw).id == Fill.parse(dict(raw)).id
    assert Fill.parse({**raw, "sz": "4"}).id != Fill.parse(raw).id


@pytest.mark.parametrize(
    ("body", "cursor", "page"),
    [
        ({"data": [], "nextCursor": "abc"}, "abc", None),
        ({"trades": [], "pagination": {"next_cursor": "xyz"}}, "xyz", None),
        ({"data": [], "page": 2, "totalPages": 5}, None, 3),
        ({"data": [], "page": 5, "totalPages": 5}, None, None),
        ([], None, None),
    ],
)
def test_a_trades_page_finds_its_cursor_or_its_next_page(
    body: Any, cursor: str | None, page: int | None
) -> None:
    parsed = TradesPage.parse(body)
    assert (parsed.next_cursor, parsed.next_page) == (cursor, page)


@pytest.mark.parametrize(
    ("item", "ok", "code"),
    [
        (
            {
                "index": 0,
                "status": "ok",
                "order": {"id": "1", "symbol": "X", "side": "buy", "quantity": "1"},
            },
            True,
            None,
        ),
        ({"id": "1", "symbol": "X", "side": "buy", "quantity": "1"}, True, None),
        (
            {"index": 0, "status": "error", "error": {"code": "INVALID_SYMBOL", "message": "no"}},
            False,
            "INVALID_SYMBOL",
        ),
        (
            {"ok": False, "code": "INSUFFICIENT_MARGIN", "message": "no"},
            False,
            "INSUFFICIENT_MARGIN",
        ),
        ({"error": "refused for a reason"}, False, "REJECTED"),
    ],
)
def test_each_batch_result_is_an_order_or_a_refusal(item: Any, ok: bool, code: str | None) -> None:
    result = BatchResult.parse(item, 0)
    assert (result.ok, result.error_code) == (ok, code)


def test_a_candle_reads_an_object_or_an_array() -> None:
    assert Candle.parse([1767225600000, "1", "3", "0.5", "2", "10"]) == Candle.parse(
        {"t": 1767225600, "o": 1, "h": 3, "l": "0.5", "c": 2, "v": 10}
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"code": "ORDER_NOT_FOUND", "message": "gone"}}, ("ORDER_NOT_FOUND", "gone")),
        ({"code": "INVALID_SYMBOL", "message": "what"}, ("INVALID_SYMBOL", "what")),
        ({"error": "plain text"}, ("", "plain text")),
        ("not an object", ("", "")),
    ],
)
def test_error_bodies_are_read_in_every_shape(body: Any, expected: tuple[str, str]) -> None:
    assert error_fields(body) == expected


KEY = jwt({"sub": "acct-1", "exp": 4102444800})


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> PerpExClient:
    def handler(request: httpx.Request) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers)

    return PerpExClient(
        ApiKey(KEY),
        api_url="https://perpex.test",
        transport=httpx.MockTransport(handler),
        rate_limiter=NoRateLimit(),
        max_retries=0,
    )


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            400,
            {"error": {"code": "INSUFFICIENT_MARGIN", "message": "m"}},
            errors.InsufficientMarginError,
        ),
        (422, {"code": "INVALID_SYMBOL", "message": "s"}, errors.InvalidSymbolError),
        (404, {"error": {"code": "ORDER_NOT_FOUND", "message": "o"}}, errors.OrderNotFoundError),
        (200, {"error": {"code": "ORDER_NOT_FOUND", "message": "o"}}, errors.OrderNotFoundError),
        (200, {"code": "INSUFFICIENT_MARGIN", "message": "m"}, errors.InsufficientMarginError),
        (401, {"error": "expired"}, errors.AuthenticationError),
        (403, {}, errors.ForbiddenError),
        (429, {"message": "slow down"}, errors.RateLimitedError),
        (503, b"<html>busy</html>", errors.ServerError),
        (200, b"{not json", errors.BadResponseError),
    ],
)
def test_every_error_answer_becomes_its_exception(
    status: int, body: Any, kind: type[errors.PerpExError]
) -> None:
    with pytest.raises(kind):
        answering(status, body).cancel_order("1")


def test_a_429_carries_its_retry_after() -> None:
    with pytest.raises(errors.RateLimitedError) as raised:
        answering(
            429, {"error": {"code": "RATE_LIMITED", "message": "x"}}, {"Retry-After": "7"}
        ).account()
    assert raised.value.retry_after == 7


def test_the_key_never_shows_in_reprs_or_in_exceptions_even_when_the_venue_echoes_it() -> None:
    client = answering(401, {"error": {"code": "UNAUTHORIZED", "message": f"bad token {KEY}"}})
    with pytest.raises(errors.AuthenticationError) as raised:
        client.account()
    shown = " ".join([str(raised.value), repr(raised.value), repr(client), str(client.api_key)])
    assert KEY not in shown
    assert "bad token ***" in str(raised.value)
