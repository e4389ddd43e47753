"""Public endpoints over real HTTP, checked against the docs' example shapes."""

from __future__ import annotations

import time
from datetime import datetime

import httpx

from tests.standx_sim.helpers import (
    FUNDING_RATE_KEYS,
    MARKET_KEYS,
    PRICE_KEYS,
    RECENT_TRADE_KEYS,
    SYMBOL_INFO_KEYS,
)


def get(sim: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{sim}{path}", params=params, timeout=10)  # type: ignore[arg-type]


def test_health_answers_plain_text_ok(sim: str) -> None:
    response = get(sim, "/api/health")
    assert response.status_code == 200
    assert response.text == "OK"
    assert response.headers["content-type"].startswith("text/plain")


def test_kline_time_is_a_bare_integer_of_seconds(sim: str) -> None:
    value = get(sim, "/api/kline/time").json()
    assert isinstance(value, int)
    assert abs(value - time.time()) < 5


def test_symbol_info_is_always_an_array_with_the_docs_fields(sim: str) -> None:
    everything = get(sim, "/api/query_symbol_info").json()
    assert [row["symbol"] for row in everything] == ["BTC-USD", "ETH-USD", "SOL-USD", "XAU-USD"]
    one = get(sim, "/api/query_symbol_info", symbol="BTC-USD").json()
    assert isinstance(one, list)
    assert len(one) == 1
    assert set(one[0]) == SYMBOL_INFO_KEYS
    assert one[0]["max_leverage"] == "20"
    assert one[0]["price_tick_decimals"] == 2
    assert one[0]["min_order_qty"] == "0.001"


def test_every_listed_symbol_reports_the_live_trading_status(sim: str) -> None:
    # Live clients keep only `status == "trading"` symbols: without it they see no market.
    everything = get(sim, "/api/query_symbol_info").json()
    assert {row["status"] for row in everything} == {"trading"}


def test_symbol_market_and_price_have_the_docs_fields(sim: str) -> None:
    market = get(sim, "/api/query_symbol_market", symbol="BTC-USD").json()
    assert set(market) == MARKET_KEYS
    assert len(market["spread"]) == 2
    assert market["next_funding_time"].endswith(":00:00Z")
    price = get(sim, "/api/query_symbol_price", symbol="ETH-USD").json()
    assert set(price) == PRICE_KEYS
    assert float(price["spread_bid"]) <= float(price["mark_price"]) <= float(price["spread_ask"])
    assert all(isinstance(price[k], str) for k in ("index_price", "mark_price", "mid_price"))


def test_depth_book_and_recent_trades_have_the_docs_fields(sim: str) -> None:
    book = get(sim, "/api/query_depth_book", symbol="BTC-USD").json()
    assert set(book) == {"asks", "bids", "symbol"}
    assert book["asks"]
    assert all(len(level) == 2 and all(isinstance(x, str) for x in level) for level in book["asks"])
    assert max(float(p) for p, _ in book["bids"]) < min(float(p) for p, _ in book["asks"])
    trades = get(sim, "/api/query_recent_trades", symbol="BTC-USD").json()
    assert isinstance(trades, list)
    for trade in trades:
        assert set(trade) == RECENT_TRADE_KEYS


def test_funding_rates_are_an_array_filtered_by_milliseconds(sim: str) -> None:
    rates = get(sim, "/api/query_funding_rates", symbol="BTC-USD").json()
    assert len(rates) >= 48
    assert set(rates[0]) == FUNDING_RATE_KEYS
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - 6 * 3600 * 1000
    recent = get(
        sim,
        "/api/query_funding_rates",
        symbol="BTC-USD",
        start_time=start_ms,
        end_time=now_ms,
    ).json()
    # Six hourly settlements at least; other suites sharing this simulator may settle more.
    assert len(recent) >= 5
    assert len(recent) < len(rates)
    times = [datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in recent]
    assert all(start_ms <= t.timestamp() * 1000 <= now_ms + 1000 for t in times)


def test_market_overview_has_a_summary_and_one_row_per_symbol(sim: str) -> None:
    overview = get(sim, "/api/query_market_overview").json()
    assert set(overview["summary"]) == {
        "open_interest_notional",
        "symbol_count",
        "volume_quote_24h",
    }
    assert overview["summary"]["symbol_count"] == 4
    row = overview["symbols"][0]
    assert isinstance(row["price_change_pct"], float)
    assert {"open_interest_notional", "funding_rate", "volume_quote_24h", "mark_price"} <= set(row)


def test_kline_history_returns_udf_bars(sim: str) -> None:
    now = int(time.time())
    bars = get(
        sim,
        "/api/kline/history",
        symbol="BTC-USD",
        resolution="60",
        **{"from": now - 86400, "to": now},
    ).json()
    assert bars["s"] == "ok"
    assert 23 <= len(bars["t"]) <= 25
    assert all(len(bars[k]) == len(bars["t"]) for k in "cohlv")
    assert all(isinstance(x, float) for x in bars["c"])
    back = get(
        sim, "/api/kline/history", symbol="BTC-USD", resolution="1", countback=10, to=now
    ).json()
    assert len(back["t"]) == 10


def test_an_unknown_symbol_is_a_400_with_a_json_body(sim: str) -> None:
    response = get(sim, "/api/query_symbol_price", symbol="DOGE-USD")
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "unknown symbol: DOGE-USD"}


def test_auth_certs_is_a_jwks(sim: str) -> None:
    keys = get(sim, "/v1/offchain/certs").json()["keys"]
    assert keys[0]["kty"] == "EC"
    assert keys[0]["crv"] == "P-256"
    assert keys[0]["alg"] == "ES256"
