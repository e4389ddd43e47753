"""The simulator over HTTP: keys, the per-key limit, routes, and the control API."""

from __future__ import annotations

import base64
import json

from tests.perpex_sim.helpers import SimControl


def claims(token: str) -> dict[str, object]:
    part = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_an_account_comes_with_a_jwt_naming_it_and_its_permissions(sim: SimControl) -> None:
    creds = sim.account(permissions=["read"])
    body = claims(creds["api_key"])
    assert (body["sub"], body["perms"], body["kid"]) == (
        creds["account_id"],
        ["read"],
        creds["key_id"],
    )
    assert isinstance(body["exp"], int)
    assert "exp" not in claims(sim.account(expires_in=None)["api_key"])


def test_keys_that_are_missing_expired_or_forged_get_401(sim: SimControl) -> None:
    expired = sim.account(expires_in=-5)["api_key"]
    forged = sim.account()["api_key"][:-3] + "abc"
    answers = [
        sim.api("GET", "/api/v1/account").json()["error"]["code"],
        sim.api("GET", "/api/v1/account", expired).json()["error"]["code"],
        sim.api("GET", "/api/v1/account", forged).json()["error"]["code"],
    ]
    assert answers == ["UNAUTHORIZED", "TOKEN_EXPIRED", "UNAUTHORIZED"]


def test_a_burst_past_120_requests_a_minute_gets_429_with_retry_after(sim: SimControl) -> None:
    key = sim.account()["api_key"]
    # A bucket of 120 refilled at 2 a second: the burst is refused once it outruns the refill,
    # after 120 answers and the few the refill allowed meanwhile (a slow machine sends fewer).
    answered = 0
    while (over := sim.api("GET", "/api/v1/account", key)).status_code == 200 and answered < 400:
        answered += 1
    assert answered >= 120
    assert (over.status_code, over.json()["error"]["code"]) == (429, "RATE_LIMITED")
    assert over.headers["retry-after"] == "1"
    assert sim.api("GET", "/api/v1/account", sim.account()["api_key"]).status_code == 200


def test_a_read_only_key_gets_403_on_every_order_route(sim: SimControl) -> None:
    key = sim.account(permissions=["read"])["api_key"]
    codes = {
        sim.api("POST", "/api/v1/orders", key, json={}).status_code,
        sim.api("POST", "/api/v1/orders/batch", key, json={"orders": []}).status_code,
        sim.api("DELETE", "/api/v1/orders/1", key).status_code,
    }
    assert codes == {403}


def test_unknown_routes_and_bad_bodies_answer_in_the_error_shape(sim: SimControl) -> None:
    key = sim.account()["api_key"]
    unknown = sim.api("GET", "/api/v1/positions", key)
    garbage = sim.api("POST", "/api/v1/orders", key, content=b"{nope")
    float_qty = sim.api(
        "POST",
        "/api/v1/orders",
        key,
        json={"symbol": "BTC-USD", "side": "buy", "type": "market", "quantity": 0.1},
    )
    bad_cursor = sim.api("GET", "/api/v1/trades", key, params={"cursor": "zzz"})
    assert [r.status_code for r in (unknown, garbage, float_qty, bad_cursor)] == [
        404,
        400,
        400,
        400,
    ]
    assert all(set(r.json()) == {"error"} for r in (unknown, garbage, float_qty, bad_cursor))


def test_the_control_api_refuses_bad_input_with_a_sentence(sim: SimControl) -> None:
    bad = [
        ("/sim/accounts", {"deposit": "lots"}),
        ("/sim/accounts", {"permissions": ["trade"]}),
        ("/sim/price", {"symbol": "BTC-USD", "mark_price": "-1"}),
        ("/sim/scenario", {"name": "meteor", "symbol": "BTC-USD"}),
        ("/sim/faults", {"error_rate": 2}),
        ("/sim/config", {"heartbeat_s": "fast"}),
        ("/sim/tick", {"count": 0}),
    ]
    for path, body in bad:
        answer = sim.api("POST", path, json=body)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"]["message"]
    assert sim.api("GET", "/sim/demo").status_code == 404


def test_a_scenario_moves_the_mark_and_a_tick_advances_the_engine(sim: SimControl) -> None:
    sim.price("HYPE-USD", "40")
    moved = sim.call(
        "POST", "/sim/scenario", {"name": "crash", "symbol": "HYPE-USD", "pct": "-10", "seconds": 0}
    )
    assert moved["markPrice"] == "36"
    assert sim.call("POST", "/sim/tick", {"count": 2})["marks"]["HYPE-USD"] == "36"
    sim.price("HYPE-USD", "40")
