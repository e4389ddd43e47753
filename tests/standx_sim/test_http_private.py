"""Authenticated endpoints over real HTTP: auth, signatures, shapes, order flow, pagination."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal

import httpx

from tests.standx_sim.helpers import (
    BALANCE_KEYS,
    FUNDING_PAYMENT_KEYS,
    ORDER_KEYS,
    POSITION_KEYS,
    TRADE_KEYS,
    Api,
    now_ms,
    sign,
)

ORDER = {
    "symbol": "BTC-USD",
    "side": "buy",
    "order_type": "market",
    "qty": "0.01",
    "time_in_force": "ioc",
    "reduce_only": False,
}


def test_private_endpoints_need_a_valid_token(sim: str, api: Api) -> None:
    missing = httpx.get(f"{sim}/api/query_balance", timeout=10)
    assert missing.status_code == 401
    assert missing.json()["code"] == 401
    garbage = httpx.get(
        f"{sim}/api/query_balance", headers={"Authorization": "Bearer x.y.z"}, timeout=10
    )
    assert garbage.status_code == 401
    expired = api.control("POST", "/sim/token", {"address": api.address, "expires_seconds": -60})
    stale = httpx.get(
        f"{sim}/api/query_balance",
        headers={"Authorization": f"Bearer {expired['token']}"},
        timeout=10,
    )
    assert stale.status_code == 401
    assert "expired" in stale.json()["message"]


def test_a_new_order_answers_success_with_the_request_id(api: Api) -> None:
    payload = json.dumps(ORDER, separators=(",", ":")).encode()
    headers = api.signed_headers(payload, request_id="req-fixed-1")
    response = api.http.post("/api/new_order", content=payload, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"code": 0, "message": "success", "request_id": "req-fixed-1"}


def test_user_endpoints_have_the_docs_shapes(api: Api) -> None:
    assert api.order(**ORDER, tp_price="125000", sl_price="80000").status_code == 200
    balance = api.get_json("/api/query_balance")
    assert set(balance) == BALANCE_KEYS
    assert all(isinstance(v, str) for v in balance.values())
    b = {k: Decimal(v) for k, v in balance.items()}
    assert (
        b["cross_available"]
        == b["cross_balance"] - b["cross_margin"] - b["locked"] + b["cross_upnl"]
    )
    assert b["equity"] == b["balance"] + b["upnl"]
    positions = api.get_json("/api/query_positions")
    assert isinstance(positions, list)
    assert set(positions[0]) == POSITION_KEYS
    assert positions[0]["user"].startswith("bsc_0x")
    orders = api.get_json("/api/query_orders")
    assert {"code", "message", "page_size", "result", "total"} == set(orders)
    assert orders["code"] == 0
    assert orders["message"] == "success"
    assert all(set(row) == ORDER_KEYS for row in orders["result"])
    statuses = sorted(row["status"] for row in orders["result"])
    assert statuses == ["filled", "untriggered", "untriggered"]
    parent = next(row for row in orders["result"] if row["status"] == "filled")
    one = api.get_json("/api/query_order", order_id=parent["id"])
    assert one == {**parent, "updated_at": one["updated_at"]}
    assert api.get_json("/api/query_order", cl_ord_id=parent["cl_ord_id"])["id"] == parent["id"]
    open_orders = api.get_json("/api/query_open_orders")
    assert open_orders["total"] == 2
    trades = api.get_json("/api/query_trades")
    assert all(set(row) == TRADE_KEYS for row in trades["result"])
    config = api.get_json("/api/query_position_config", symbol="BTC-USD")
    assert config == {"symbol": "BTC-USD", "leverage": "10", "margin_mode": "cross"}
    assert api.get("/api/query_order", order_id=1).status_code == 404


def test_every_json_body_form_verifies_against_its_raw_bytes(api: Api) -> None:
    assert api.post("/api/new_order", ORDER).status_code == 200
    assert api.post("/api/new_order", ORDER, spaced=True).status_code == 200
    sorted_body = json.dumps(ORDER, sort_keys=True, separators=(",", ":")).encode()
    assert api.post("/api/new_order", sorted_body).status_code == 200


def test_it_rejects_a_stale_timestamp(api: Api) -> None:
    old = str(int(now_ms()) - 120_000)
    response = api.post("/api/new_order", ORDER, timestamp=old)
    assert response.status_code == 403
    assert "signature has expired" in response.json()["message"]


def test_it_rejects_a_bad_signature(api: Api, make_api: Callable[..., Api]) -> None:
    payload = json.dumps(ORDER, separators=(",", ":")).encode()
    headers = api.signed_headers(payload)
    tampered = api.http.post(
        "/api/new_order", content=payload.replace(b"0.01", b"0.02"), headers=headers
    )
    assert tampered.status_code == 403
    other = make_api()
    rid, ts = str(uuid.uuid4()), now_ms()
    foreign_sig = sign(other.creds["signing_key"], rid, ts, payload)
    headers.update(
        {"x-request-id": rid, "x-request-timestamp": ts, "x-request-signature": foreign_sig}
    )
    foreign = api.http.post("/api/new_order", content=payload, headers=headers)
    assert foreign.status_code == 403
    unsigned = api.http.post(
        "/api/new_order", content=payload, headers={"Authorization": f"Bearer {api.token}"}
    )
    assert unsigned.status_code == 403


def test_version_header_may_be_missing_or_spelled_x_request_version(api: Api) -> None:
    payload = json.dumps(ORDER, separators=(",", ":")).encode()
    headers = api.signed_headers(payload)
    del headers["x-request-sign-version"]
    assert api.http.post("/api/new_order", content=payload, headers=headers).status_code == 200
    headers = api.signed_headers(payload)
    headers["x-request-version"] = headers.pop("x-request-sign-version")
    assert api.http.post("/api/new_order", content=payload, headers=headers).status_code == 200


def test_a_signed_get_is_verified_with_an_empty_payload(api: Api) -> None:
    headers = api.signed_headers(b"")
    assert api.http.get("/api/query_positions", headers=headers).status_code == 200
    headers["x-request-signature"] = api.signed_headers(b"x")["x-request-signature"]
    assert api.http.get("/api/query_positions", headers=headers).status_code == 403


def test_order_validation_errors_are_400_with_clear_messages(api: Api) -> None:
    cases = {
        "below the minimum": {**ORDER, "qty": "0.0001"},
        "not a multiple of the qty tick": {**ORDER, "qty": "0.0105"},
        "not a multiple of the price tick": {
            **ORDER,
            "order_type": "limit",
            "time_in_force": "gtc",
            "price": "99000.001",
        },
        "exceeds the max leverage": {**ORDER, "leverage": 25},
        "unknown symbol": {**ORDER, "symbol": "FOO-USD"},
        "not a valid decimal": {**ORDER, "qty": "abc"},
    }
    for text, body in cases.items():
        response = api.post("/api/new_order", body)
        assert response.status_code == 400, (text, response.text)
        assert text in response.json()["message"]
        assert response.json()["code"] == 400


def test_alo_that_would_take_is_accepted_then_rejected(
    api: Api, set_price: Callable[[str, str], None]
) -> None:
    set_price("BTC-USD", "100000")
    response = api.order(
        symbol="BTC-USD",
        side="buy",
        order_type="limit",
        qty="0.01",
        price="100100",
        time_in_force="alo",
    )
    assert response.json()["code"] == 0
    last = api.get_json("/api/query_orders", limit=1)["result"][0]
    assert last["status"] == "rejected"
    assert last["remark"] == "alo order rejected"


def test_pagination_is_newest_first_with_last_id_exclusive(
    api: Api, set_price: Callable[[str, str], None]
) -> None:
    set_price("BTC-USD", "100000")
    for i in range(5):
        api.order(
            symbol="BTC-USD", side="buy", order_type="limit", qty="0.001", price=str(90000 + i)
        )
    first = api.get_json("/api/query_orders", limit=2)
    assert first["page_size"] == 2
    assert first["total"] == 5
    ids = [row["id"] for row in first["result"]]
    assert ids == sorted(ids, reverse=True)
    second = api.get_json("/api/query_orders", limit=2, last_id=ids[-1])
    assert [row["id"] for row in second["result"]] == [ids[-1] - 1, ids[-1] - 2]
    assert api.get_json("/api/query_orders", limit=999)["page_size"] == 5
    assert api.get_json("/api/query_orders", status="new")["total"] == 5
    assert api.get_json("/api/query_open_orders", limit=3)["page_size"] == 3


def test_cancel_order_and_cancel_orders(api: Api, set_price: Callable[[str, str], None]) -> None:
    set_price("BTC-USD", "100000")
    for price in ("90000", "90001", "90002"):
        api.order(
            symbol="BTC-USD",
            side="buy",
            order_type="limit",
            qty="0.001",
            price=price,
            cl_ord_id=f"c-{price}",
        )
    ids = [row["id"] for row in api.get_json("/api/query_open_orders")["result"]]
    assert api.post("/api/cancel_order", {"order_id": ids[0]}).json()["code"] == 0
    assert api.post("/api/cancel_order", {"cl_ord_id": "c-90000"}).json()["code"] == 0
    assert api.post("/api/cancel_orders", {"order_id_list": [ids[1]]}).json() == []
    assert api.get_json("/api/query_open_orders")["total"] == 0
    assert api.post("/api/cancel_order", {"order_id": ids[0]}).status_code == 400
    assert api.get_json("/api/query_order", order_id=ids[0])["status"] == "canceled"


def test_leverage_margin_mode_and_margin_transfer(api: Api) -> None:
    assert (
        api.post(
            "/api/change_margin_mode", {"symbol": "ETH-USD", "margin_mode": "isolated"}
        ).json()["code"]
        == 0
    )
    assert (
        api.post("/api/change_leverage", {"symbol": "ETH-USD", "leverage": 5}).json()["code"] == 0
    )
    assert api.get_json("/api/query_position_config", symbol="ETH-USD") == {
        "symbol": "ETH-USD",
        "leverage": "5",
        "margin_mode": "isolated",
    }
    api.order(symbol="ETH-USD", side="buy", order_type="market", qty="0.1")
    refused = api.post("/api/change_margin_mode", {"symbol": "ETH-USD", "margin_mode": "cross"})
    assert refused.status_code == 400
    before = Decimal(api.get_json("/api/query_positions", symbol="ETH-USD")[0]["holding_margin"])
    assert (
        api.post("/api/transfer_margin", {"symbol": "ETH-USD", "amount_in": "25.5"}).json()["code"]
        == 0
    )
    after = Decimal(api.get_json("/api/query_positions", symbol="ETH-USD")[0]["holding_margin"])
    assert after - before == Decimal("25.5")
    assert (
        api.post("/api/change_leverage", {"symbol": "ETH-USD", "leverage": 99}).status_code == 400
    )


def test_funding_settles_now_and_shows_in_funding_history(api: Api) -> None:
    api.order(**ORDER)
    settled = api.control("POST", "/sim/funding", {"symbol": "BTC-USD", "rate": "0.0001"})
    assert settled["settled"][0]["funding_rate"] == "0.0001"
    history = api.get_json("/api/query_funding_history", symbol="BTC-USD")
    assert isinstance(history, list)
    assert set(history[0]) == FUNDING_PAYMENT_KEYS
    assert Decimal(history[0]["qty"]) < 0  # a long pays a positive rate


def test_the_ledger_records_everything_and_reconciles(api: Api) -> None:
    api.order(**ORDER)
    api.order(**{**ORDER, "side": "sell", "reduce_only": True})
    api.control("POST", "/sim/funding", {"rate": "0.0001"})
    ledger = api.control("GET", f"/sim/ledger?address={api.address}")
    assert {"orders", "trades", "funding", "balance_changes", "balance"} <= set(ledger)
    assert len(ledger["orders"]) == 2
    assert len(ledger["trades"]) == 2
    total = sum(Decimal(c["amount"]) for c in ledger["balance_changes"])
    assert total == Decimal(api.get_json("/api/query_balance")["balance"])


def test_sim_accounts_can_fund_a_given_address(sim: str, make_api: Callable[..., Api]) -> None:
    address = "0x" + uuid.uuid4().hex[:8] + "ab" * 16
    unfunded = make_api(deposit=None, address=address)
    response = unfunded.get("/api/query_balance")
    assert response.status_code == 404
    assert "user balance not found" in response.json()["message"]
    funded = make_api(deposit="250", address=address.upper().replace("0X", "0x"))
    assert funded.address == address
    assert funded.get_json("/api/query_balance")["balance"] == "250"
    assert unfunded.token != funded.token
