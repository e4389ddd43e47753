"""Control API behaviours over real HTTP: faults, rate limits, scenarios, prices."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from tests.standx_sim.helpers import Api


def control(sim: str, method: str, path: str, body: object = None) -> Any:
    response = httpx.request(method, f"{sim}{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_endpoint_fault_hits_only_that_endpoint_and_is_cleared(sim: str, api: Api) -> None:
    control(
        sim, "POST", "/sim/faults", {"endpoint": "query_balance", "error_rate": 1, "status": 503}
    )
    failing = api.get("/api/query_balance")
    assert failing.status_code == 503
    assert failing.json() == {"code": 503, "message": "injected fault"}
    assert api.get("/api/query_positions").status_code == 200
    control(sim, "DELETE", "/sim/faults")
    assert api.get("/api/query_balance").status_code == 200


def test_a_wildcard_fault_rate_fails_some_requests(sim: str, api: Api) -> None:
    control(sim, "POST", "/sim/faults", {"endpoint": "*", "error_rate": 0.5, "status": 500})
    codes = [api.get("/api/query_positions").status_code for _ in range(40)]
    assert 5 < codes.count(500) < 35
    assert codes.count(200) + codes.count(500) == 40


def test_latency_is_injected(sim: str, api: Api) -> None:
    control(sim, "POST", "/sim/faults", {"endpoint": "query_symbol_price", "latency_ms": 300})
    started = time.monotonic()
    assert httpx.get(f"{sim}/api/query_symbol_price?symbol=BTC-USD", timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_malformed_bodies_are_invalid_json(sim: str) -> None:
    control(sim, "POST", "/sim/faults", {"endpoint": "query_symbol_info", "malformed_rate": 1})
    response = httpx.get(f"{sim}/api/query_symbol_info", timeout=10)
    assert response.status_code == 200
    try:
        response.json()
    except ValueError:
        pass
    else:
        raise AssertionError("expected a malformed body")


def test_a_429_storm_carries_retry_after_and_ends_by_itself(sim: str, api: Api) -> None:
    storm_rule = {
        "endpoint": "*",
        "error_rate": 1,
        "status": 429,
        "retry_after": 2,
        "duration_s": 0.5,
    }
    control(sim, "POST", "/sim/faults", storm_rule)
    storm = api.get("/api/query_positions")
    assert storm.status_code == 429
    assert storm.headers["retry-after"] == "2"
    time.sleep(0.6)
    assert api.get("/api/query_positions").status_code == 200
    assert control(sim, "GET", "/sim/faults")["faults"] == []


def until_refused(send: Callable[[], httpx.Response], cap: int = 500) -> list[httpx.Response]:
    """Answers to a burst, up to the first 429: which request meets it depends on how fast
    this machine sends while the bucket refills, so the burst goes on until it does."""
    answers: list[httpx.Response] = []
    while len(answers) < cap and (not answers or answers[-1].status_code != 429):
        answers.append(send())
    return answers


def test_rate_limits_apply_per_address_and_per_ip(sim: str, api: Api) -> None:
    control(sim, "POST", "/sim/limits", {"enabled": True})
    try:
        answers = until_refused(lambda: api.get("/api/query_positions"))
        assert len(answers) > 20 and {a.status_code for a in answers[:20]} == {200}
        assert answers[-1].status_code == 429
        assert int(answers[-1].headers["retry-after"]) >= 1
        control(sim, "POST", "/sim/limits", {"enabled": True, "ip_rate": 5})
        with httpx.Client(base_url=sim, timeout=10) as http:
            public = until_refused(lambda: http.get("/api/kline/time"))
        assert len(public) > 5 and {a.status_code for a in public[:5]} == {200}
        assert public[-1].status_code == 429
        assert httpx.get(f"{sim}/api/health", timeout=10).status_code == 200
    finally:
        control(sim, "POST", "/sim/limits", {"enabled": False, "ip_rate": 50})
    assert all(api.get("/api/query_positions").status_code == 200 for _ in range(30))


def test_setting_a_price_moves_mark_and_index_now(sim: str) -> None:
    answer = control(sim, "POST", "/sim/price", {"symbol": "SOL-USD", "mark_price": "150.5"})
    assert answer == {"symbol": "SOL-USD", "mark_price": "150.500", "index_price": "150.500000"}
    price = httpx.get(f"{sim}/api/query_symbol_price?symbol=SOL-USD", timeout=10).json()
    assert price["mark_price"] == "150.500"


def test_a_crash_scenario_moves_the_price_down(sim: str) -> None:
    control(sim, "POST", "/sim/price", {"symbol": "ETH-USD", "mark_price": "3000"})
    now = control(
        sim,
        "POST",
        "/sim/scenario",
        {"name": "crash", "symbol": "ETH-USD", "pct": "-10", "seconds": 0},
    )
    assert Decimal(now["mark_price"]) == Decimal("2700")
    control(sim, "POST", "/sim/price", {"symbol": "ETH-USD", "mark_price": "3000"})
    control(
        sim,
        "POST",
        "/sim/scenario",
        {"name": "pump", "symbol": "ETH-USD", "pct": "5", "seconds": 0.4},
    )
    deadline = time.monotonic() + 5
    mark = Decimal(0)
    while mark != Decimal("3150") and time.monotonic() < deadline:
        time.sleep(0.1)  # the scenario completes on the first engine tick after 0.4 s
        price = httpx.get(f"{sim}/api/query_symbol_price?symbol=ETH-USD", timeout=10).json()
        mark = Decimal(price["mark_price"])
    assert mark == Decimal("3150")
    bad = httpx.post(
        f"{sim}/sim/scenario", json={"name": "meteor", "symbol": "ETH-USD"}, timeout=10
    )
    assert bad.status_code == 400


def test_the_demo_endpoint_is_404_without_the_demo_scenario(sim: str) -> None:
    assert httpx.get(f"{sim}/sim/demo", timeout=10).status_code == 404


def test_symbols_expose_margin_tiers(sim: str) -> None:
    symbols = httpx.get(f"{sim}/sim/symbols", timeout=10).json()
    btc = next(s for s in symbols if s["symbol"] == "BTC-USD")
    assert btc["margin_tiers"][0] == {
        "max_notional": "1000000",
        "max_leverage": "20",
        "maint_rate": "0.025",
    }


def test_a_halted_symbol_reports_its_status_and_refuses_new_orders(
    sim: str, api: Api, symbol_status: Callable[[str, str], None]
) -> None:
    symbol_status("SOL-USD", "halt")
    info = api.get("/api/query_symbol_info", auth=False, symbol="SOL-USD").json()
    assert info[0]["status"] == "halt"
    assert control(sim, "GET", "/sim/symbols")[2]["status"] == "halt"
    refused = api.order(symbol="SOL-USD", side="buy", order_type="market", qty="1")
    assert refused.status_code == 400
    assert refused.json()["message"] == "symbol SOL-USD is not trading (status halt)"
    # The other symbols trade on.
    assert api.order(symbol="BTC-USD", side="buy", order_type="market", qty="0.001").is_success
    symbol_status("SOL-USD", "trading")
    assert api.order(symbol="SOL-USD", side="buy", order_type="market", qty="1").is_success


def test_a_symbol_status_must_be_a_word(sim: str) -> None:
    response = httpx.post(
        f"{sim}/sim/symbol-status", json={"symbol": "SOL-USD", "status": ""}, timeout=10
    )
    assert response.status_code == 400
    assert "status must be a word" in response.json()["message"]


def test_a_withdrawal_leaves_the_balance_and_the_ledger_says_so(sim: str, api: Api) -> None:
    before = Decimal(api.get_json("/api/query_balance")["balance"])
    after = control(sim, "POST", "/sim/withdraw", {"address": api.address, "amount": "200"})
    assert Decimal(after["balance"]) == before - 200
    book = control(sim, "GET", f"/sim/ledger?address={api.address}")
    assert [(c["kind"], c["amount"]) for c in book["balance_changes"]][-1] == ("withdrawal", "-200")
    assert sum(Decimal(c["amount"]) for c in book["balance_changes"]) == Decimal(after["balance"])
    too_much = httpx.post(
        f"{sim}/sim/withdraw", json={"address": api.address, "amount": str(before)}, timeout=10
    )
    assert too_much.status_code == 400
    assert "insufficient available balance" in too_much.json()["message"]
