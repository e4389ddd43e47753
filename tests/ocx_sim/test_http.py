"""The simulator over real HTTP, driven by hand-written requests (not the client)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import httpx
from eth_account import Account

from tests.ocx_sim.helpers import Api, control, new_account, personal_sign, siwe_text


def _sign_in(url: str, key: str, **kw: object) -> httpx.Response:
    address = Account.from_key(key).address
    nonce = httpx.post(f"{url}/auth/nonce", json={"walletAddress": address}).json()["nonce"]
    text = siwe_text(url, address, nonce, **kw)  # type: ignore[arg-type]
    return httpx.post(
        f"{url}/auth/siwe", json={"message": text, "signature": personal_sign(key, text)}
    )


def test_it_signs_in_with_ethereum_and_sets_a_seven_day_session_cookie(sim: str) -> None:
    key = "0x" + "11" * 32
    response = _sign_in(sim, key)
    assert response.status_code == 200, response.text
    assert response.json()["walletAddress"] == Account.from_key(key).address
    cookie = response.headers["set-cookie"]
    assert "astra_session=" in cookie
    assert "Max-Age=604800" in cookie
    assert "HttpOnly" in cookie
    token = response.cookies["astra_session"]
    me = httpx.get(f"{sim}/auth/me", headers={"authorization": f"Bearer {token}"}).json()
    assert me["userId"] == response.json()["userId"]
    by_cookie = httpx.get(f"{sim}/perps/positions", cookies={"astra_session": token})
    assert by_cookie.status_code == 200


def test_it_rejects_a_message_for_another_domain_and_a_signature_by_another_wallet(
    sim: str,
) -> None:
    key = "0x" + "22" * 32
    other = _sign_in(sim, key, domain="evil.example")
    assert (other.status_code, other.json()["error"]) == (400, "INVALID_SIWE_MESSAGE")
    address = Account.from_key(key).address
    nonce = httpx.post(f"{sim}/auth/nonce", json={"walletAddress": address}).json()["nonce"]
    text = siwe_text(sim, address, nonce)
    forged = httpx.post(
        f"{sim}/auth/siwe",
        json={"message": text, "signature": personal_sign("0x" + "33" * 32, text)},
    )
    assert (forged.status_code, forged.json()["error"]) == (401, "INVALID_SIGNATURE")


def test_it_rejects_a_reused_nonce(sim: str) -> None:
    key = "0x" + "44" * 32
    address = Account.from_key(key).address
    nonce = httpx.post(f"{sim}/auth/nonce", json={"walletAddress": address}).json()["nonce"]
    text = siwe_text(sim, address, nonce)
    body = {"message": text, "signature": personal_sign(key, text)}
    assert httpx.post(f"{sim}/auth/siwe", json=body).status_code == 200
    again = httpx.post(f"{sim}/auth/siwe", json=body)
    assert (again.status_code, again.json()["error"]) == (400, "NONCE_MISMATCH")


def test_a_read_key_reads_but_is_refused_on_every_order_route(alice: Api) -> None:
    assert alice.call("GET", "/perps/positions", key="read_api_key").status_code == 200
    order = {"marketId": "BTC-PERP", "side": "buy", "type": "market", "quantity": "0.01"}
    for path, body in [
        ("/perps/orders/preview", order),
        ("/perps/orders/cancel-all", {}),
        ("/perps/quotes/bulk", {"marketId": "BTC-PERP", "quotes": []}),
    ]:
        refused = alice.call("POST", path, body, key="read_api_key")
        assert (refused.status_code, refused.json()["error"]) == (403, "INSUFFICIENT_SCOPE")
    for path in ("/perps/orders", "/perps/positions/close", "/wallet/transfer"):
        refused = alice.call("POST", path, order, key="api_key")
        assert (refused.status_code, refused.json()["error"]) == (403, "SESSION_REQUIRED")
    assert alice.call("POST", "/perps/orders/preview", order, key="api_key").status_code == 200


def test_keys_are_stored_hashed_listed_without_secrets_and_revocable(alice: Api) -> None:
    created = alice.ok(
        "POST",
        "/perps/me/api-keys",
        {"name": "bot", "scope": "read", "allowedIps": ["10.9.9.9"], "expiresInDays": 30},
    )
    assert created["secret"].startswith("ocx_sk_")
    listed = alice.ok("GET", "/perps/me/api-keys")
    assert all("secret" not in k for k in listed)
    assert {k["id"]: k["status"] for k in listed}[created["id"]] == "active"
    pinned = alice.http.get("/perps/positions", headers={"x-api-key": created["secret"]})
    assert (pinned.status_code, pinned.json()["error"]) == (403, "IP_NOT_ALLOWED")
    alice.ok("DELETE", f"/perps/me/api-keys/{alice.creds['read_api_key_id']}")
    revoked = alice.call("GET", "/perps/positions", key="read_api_key")
    assert (revoked.status_code, revoked.json()["error"]) == (401, "API_KEY_REVOKED")
    by_key = alice.call("GET", "/perps/me/api-keys", key="api_key")
    assert by_key.status_code == 403


def test_preview_gives_the_documented_fields_without_side_effects(alice: Api) -> None:
    body = {"marketId": "ETH-PERP", "side": "buy", "type": "market", "quantity": "1"}
    preview = alice.ok("POST", "/perps/orders/preview", body)
    for field in (
        "notional",
        "marginRequired",
        "estFee",
        "feeBps",
        "feeRole",
        "user30dVolume",
        "approved",
    ):
        assert field in preview
    assert (preview["feeRole"], preview["feeBps"], preview["approved"]) == ("taker", "5", True)
    assert Decimal(preview["estFee"]) == Decimal(preview["notional"]) * 5 / 10000
    assert alice.ok("GET", "/perps/orders") == []
    huge = alice.ok("POST", "/perps/orders/preview", {**body, "quantity": "100"})
    assert huge["approved"] is False
    assert huge["reason"].startswith("INSUFFICIENT_MARGIN")


def test_cancel_all_cancels_only_its_scope(alice: Api, sim: str) -> None:
    mark = Decimal(control(sim, "POST", "/sim/tick", {"count": 0})["marks"]["SOL-PERP"])
    low = str((mark * Decimal("0.9")).quantize(Decimal("0.001")))
    for market, price in (("SOL-PERP", low), ("SOL-PERP", low)):
        alice.ok(
            "POST",
            "/perps/orders",
            {
                "marketId": market,
                "side": "buy",
                "price": price,
                "quantity": "1",
                "timeInForce": "gtc",
            },
        )
    btc = Decimal(control(sim, "POST", "/sim/tick", {"count": 0})["marks"]["BTC-PERP"])
    alice.ok(
        "POST",
        "/perps/orders",
        {
            "marketId": "BTC-PERP",
            "side": "buy",
            "quantity": "0.01",
            "price": str((btc * Decimal("0.9")).quantize(Decimal("0.1"))),
        },
    )
    scoped = alice.ok("POST", "/perps/orders/cancel-all", {"marketId": "SOL-PERP"}, key="api_key")
    assert scoped["canceled"] == 2
    assert [o["marketId"] for o in alice.ok("GET", "/perps/orders/open")] == ["BTC-PERP"]
    assert alice.ok("POST", "/perps/orders/cancel-all", {})["canceled"] == 1


def test_a_duplicate_client_order_id_is_a_409_and_a_crossing_post_only_a_422(alice: Api) -> None:
    order = {
        "marketId": "BTC-PERP",
        "side": "buy",
        "type": "market",
        "quantity": "0.01",
        "clientOrderId": "alice-1",
    }
    assert alice.ok("POST", "/perps/orders", order)["status"] == "filled"
    again = alice.call("POST", "/perps/orders", order)
    assert (again.status_code, again.json()["error"]) == (409, "DUPLICATE_CLIENT_ORDER_ID")
    crossing = {
        "marketId": "BTC-PERP",
        "side": "buy",
        "price": "999999",
        "quantity": "0.01",
        "postOnly": True,
    }
    refused = alice.call("POST", "/perps/orders", crossing)
    assert (refused.status_code, refused.json()["error"]) == (422, "POST_ONLY_WOULD_CROSS")


def test_transfers_are_double_entry_and_cannot_overdraw(alice: Api, sim: str) -> None:
    after = alice.ok(
        "POST", "/wallet/transfer", {"from": "wallet", "to": "spot", "amount": "1234.5"}
    )
    assert (after["walletBalance"], after["spotBalance"]) == ("3765.5", "1234.5")
    short = alice.call(
        "POST", "/wallet/transfer", {"from": "options", "to": "perps", "amount": "1"}
    )
    assert (short.status_code, short.json()["error"]) == (400, "INSUFFICIENT_BALANCE")
    ledger = control(sim, "GET", f"/sim/ledger?address={alice.creds['wallet_address']}")
    assert ledger["buckets"] == ledger["ledgerBuckets"]
    for posting in ledger["postings"]:
        assert sum(Decimal(leg["amount"]) for leg in posting["legs"]) == 0
    assert control(sim, "GET", "/sim/ledger")["total"] == "0"


def test_withdraw_answers_but_the_ledger_flags_the_call(alice: Api, sim: str) -> None:
    answer = alice.ok("POST", "/wallet/withdraw", {"amount": "10"})
    assert answer["withdrawalId"]
    ledger = control(sim, "GET", f"/sim/ledger?address={alice.creds['wallet_address']}")
    assert ledger["withdrawFlagged"] is True


def test_the_order_path_answers_429_with_retry_after_ms(alice: Api, sim: str) -> None:
    control(sim, "POST", "/sim/limits", {"per_minute": 3})
    for _ in range(3):
        assert alice.call("POST", "/perps/orders/cancel-all", {}).status_code == 200
    limited = alice.call("POST", "/perps/orders/cancel-all", {})
    assert limited.status_code == 429
    assert limited.json()["error"] == "ORDER_RATE_LIMIT"
    assert 0 < limited.json()["retryAfterMs"] <= 60000
    assert int(limited.headers["retry-after"]) >= 1
    assert alice.call("GET", "/perps/positions").status_code == 200  # reads are not limited


def test_a_mark_move_liquidates_an_undercollateralized_account(
    make_api: Callable[..., Api], sim: str
) -> None:
    carol = make_api(deposit="1000", perps="1000")
    btc = Decimal(control(sim, "POST", "/sim/tick", {"count": 0})["marks"]["BTC-PERP"])
    carol.ok(
        "POST",
        "/perps/orders",
        {"marketId": "BTC-PERP", "side": "buy", "type": "market", "quantity": "0.15"},
    )
    (position,) = carol.ok("GET", "/perps/positions")
    liq = Decimal(position["liquidationPrice"])
    assert liq < btc
    control(sim, "POST", "/sim/price", {"symbol": "BTC-PERP", "mark_price": str(liq - 100)})
    control(sim, "POST", "/sim/price", {"symbol": "BTC-PERP", "mark_price": str(btc)})
    assert carol.ok("GET", "/perps/positions") == []
    ledger = control(sim, "GET", f"/sim/ledger?address={carol.creds['wallet_address']}")
    assert ledger["liquidations"] == 1
    assert ledger["positions"][-1]["status"] == "liquidated"


def test_a_dated_future_settles_at_expiry_and_leaves_the_listing(fresh_ocx_sim: str) -> None:
    url = fresh_ocx_sim
    carol = Api(url, new_account(url))
    future = next(
        m for m in httpx.get(f"{url}/perps/markets").json() if m["marketType"] == "future"
    )
    carol.ok(
        "POST",
        "/perps/orders",
        {"marketId": future["id"], "side": "buy", "type": "market", "quantity": "0.01"},
    )
    control(url, "POST", "/sim/tick", {"count": 1, "advance_seconds": 8 * 86400})
    listed = [m["id"] for m in httpx.get(f"{url}/perps/markets").json()]
    assert future["id"] not in listed
    assert any(m.endswith(tuple("0123456789")) and m.startswith("BTC-USDC-") for m in listed)
    carol.creds["session"] = control(
        url, "POST", "/sim/session", {"address": carol.creds["wallet_address"]}
    )["session"]
    assert carol.ok("GET", "/perps/positions") == []
    ledger = control(url, "GET", f"/sim/ledger?address={carol.creds['wallet_address']}")
    kinds = [p["kind"] for p in ledger["postings"]]
    assert "settlement" in kinds
    assert "funding" not in kinds  # futures pay no funding
    assert ledger["positions"][0]["status"] == "settled"
    carol.close()
