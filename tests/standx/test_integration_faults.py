"""The client under the simulator's injected faults (real HTTP, real server behaviour)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from exchange_common.ratelimit import NoRateLimit
from standx import errors
from standx.rest import Credentials, Endpoints, StandXClient
from tests.standx.conftest import sim_control


@pytest.fixture
def faulty(sim_url: str, alice_account: dict[str, Any]) -> Iterator[StandXClient]:
    creds = Credentials.from_strings(alice_account["token"], alice_account["signing_key"])
    client = StandXClient(
        creds,
        endpoints=Endpoints.for_simulator(sim_url),
        rate_limiter=NoRateLimit(),
        max_retries=2,
        max_backoff=0.05,
        timeout=0.5,
    )
    yield client
    client.close()
    httpx.delete(f"{sim_url}/sim/faults", timeout=10)


def fault(sim_url: str, **rule: Any) -> None:
    sim_control(sim_url, "POST", "/sim/faults", rule)


def test_a_persistent_500_is_retried_then_raised_as_a_server_error(
    sim_url: str, faulty: StandXClient
) -> None:
    fault(sim_url, endpoint="query_positions", error_rate=1.0, status=500)
    with pytest.raises(errors.ServerError) as info:
        faulty.query_positions()
    assert info.value.status == 500
    # Other endpoints are untouched.
    assert faulty.query_balance().equity > 0


def test_a_429_storm_is_a_rate_limited_error_carrying_retry_after(
    sim_url: str, faulty: StandXClient
) -> None:
    fault(sim_url, endpoint="query_balance", error_rate=1.0, status=429, retry_after=1)
    faulty.max_retries = 0
    with pytest.raises(errors.RateLimitedError) as info:
        faulty.query_balance()
    assert info.value.retry_after == 1


def test_a_short_outage_is_ridden_out_by_get_retries(sim_url: str, faulty: StandXClient) -> None:
    fault(sim_url, endpoint="query_balance", error_rate=1.0, status=503, duration_s=0.3)
    faulty.max_backoff = 0.5
    faulty.max_retries = 4
    assert faulty.query_balance().funded


def test_malformed_json_is_a_bad_response(sim_url: str, faulty: StandXClient) -> None:
    fault(sim_url, endpoint="query_open_orders", malformed_rate=1.0)
    with pytest.raises(errors.BadResponseError, match="query_open_orders"):
        faulty.query_open_orders()


def test_a_slow_exchange_is_a_timeout(sim_url: str, faulty: StandXClient) -> None:
    fault(sim_url, endpoint="query_trades", latency_ms=1500)
    with pytest.raises(errors.RequestTimeoutError):
        faulty.query_trades()


def test_a_failing_post_is_not_retried(sim_url: str, faulty: StandXClient) -> None:
    fault(sim_url, endpoint="new_order", error_rate=1.0, status=500)
    with pytest.raises(errors.ServerError):
        faulty.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.001")
    ledger = sim_control(sim_url, "GET", f"/sim/ledger?address={faulty.credentials.user}")  # type: ignore[union-attr]
    assert ledger["orders"] == []  # nothing went through, and nothing was sent twice
