"""The StandX adapter's public market data against the simulator over HTTP, normalized."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from venues import registry
from venues import standx as standx_venue
from venues.base import Endpoints, Kind, Mark, RiskModel
from venues.errors import Unavailable


def test_the_registry_knows_standx_and_its_capabilities() -> None:
    adapter = registry.adapter("standx")
    assert adapter.name == "StandX"
    assert adapter.capabilities.risk_model is RiskModel.COMPUTED
    assert adapter.capabilities.time_in_force == {"gtc", "ioc", "alo"}
    assert adapter.rate_budget.sync_per_second == 45
    with pytest.raises(LookupError, match="no venue 'nowhere'; known: ocx, perpex, standx"):
        registry.adapter("nowhere")


def test_instruments_quotes_funding_and_candles_come_back_normalized(sim_url: str) -> None:
    endpoints = standx_venue.endpoints_for_simulator(sim_url)
    now = datetime.now(UTC)
    with registry.adapter("standx").public(endpoints) as session:
        instruments = {i.symbol: i for i in session.instruments()}
        btc = instruments["BTC-USD"]
        assert (btc.kind, btc.status) == (Kind.PERP, "trading")
        assert isinstance(btc.taker_fee, Decimal)
        quote = session.quote("BTC-USD")
        assert quote.mark_price is not None
        assert quote.mark_price > 0
        rates = session.funding_history("BTC-USD", now - timedelta(days=3), now)
        assert rates
        assert all(r.symbol == "BTC-USD" for r in rates)
        bars = session.candles("BTC-USD", "1", now - timedelta(minutes=30), now, 30)
        assert bars
        assert all(b.low <= b.high for b in bars)


def test_a_failing_venue_raises_the_neutral_transient_error(sim_url: str) -> None:
    endpoints = standx_venue.endpoints_for_simulator(sim_url)
    httpx.post(
        f"{sim_url}/sim/faults", json={"endpoint": "*", "error_rate": 1.0, "status": 503}
    ).raise_for_status()
    try:
        session = registry.adapter("standx").public(endpoints, retries=0)
        with session, pytest.raises(Unavailable) as raised:
            session.quote("BTC-USD")
        assert raised.value.transient
        assert raised.value.venue == "StandX"
    finally:
        httpx.delete(f"{sim_url}/sim/faults").raise_for_status()


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {"symbol": "BTC-USD", "mark_price": "101234.5", "index_price": "101230"},
            "Mark(symbol='BTC-USD', mark_price=Decimal('101234.5'), "
            "index_price=Decimal('101230'), last_price=None)",
        ),
        ({"symbol": "BTC-USD", "mark_price": "lots"}, "malformed price for BTC-USD ignored"),
        ({"mark_price": "1"}, "a price message without a symbol"),
        ("not an object", "a price message without a symbol"),
    ],
)
def test_a_price_message_becomes_a_mark_or_says_why_not(message: object, expected: str) -> None:
    parsed = standx_venue.parse_mark(message)
    assert (repr(parsed) if isinstance(parsed, Mark) else parsed.text) == expected


def test_the_origin_of_endpoints_is_the_api_whatever_order_the_names_come_back_in() -> None:
    endpoints = standx_venue.endpoints_for_simulator("http://127.0.0.1:8100")
    # As PostgreSQL's JSON gives a mapping back: shorter keys first.
    shuffled = Endpoints(dict(sorted(endpoints.urls.items(), key=lambda kv: (len(kv[0]), kv[0]))))
    assert next(iter(shuffled.urls)) == "ws"
    assert shuffled.origin == endpoints.origin == "http://127.0.0.1:8100"
