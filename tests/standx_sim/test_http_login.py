"""Full wallet logins over real HTTP: EVM (eth-account signs) and Solana (PyNaCl signs)."""

from __future__ import annotations

import base64
import json
from typing import Any

import base58
import httpx
import jwt
from eth_account import Account
from eth_account.messages import encode_defunct
from nacl.signing import SigningKey

from tests.standx_sim.helpers import Api


def prepare(
    sim: str, chain: str, address: str, request_key: SigningKey
) -> tuple[str, dict[str, Any]]:
    request_id = base58.b58encode(bytes(request_key.verify_key)).decode()
    response = httpx.post(
        f"{sim}/v1/offchain/prepare-signin?chain={chain}",
        json={"address": address, "requestId": request_id},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    jwks = httpx.get(f"{sim}/v1/offchain/certs", timeout=10).json()
    header = jwt.get_unverified_header(body["signedData"])
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    payload = jwt.decode(body["signedData"], jwt.PyJWK(key).key, algorithms=["ES256"])
    return body["signedData"], payload


def login(sim: str, chain: str, signature: str, signed_data: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        f"{sim}/v1/offchain/login?chain={chain}",
        json={"signature": signature, "signedData": signed_data, **extra},
        timeout=10,
    )


def test_a_full_evm_login_signs_orders_with_the_login_key(sim: str) -> None:
    wallet = Account.create()
    request_key = SigningKey.generate()
    signed_data, payload = prepare(sim, "bsc", wallet.address, request_key)
    signature = Account.sign_message(
        encode_defunct(text=payload["message"]), private_key=wallet.key
    )
    response = login(sim, "bsc", "0x" + signature.signature.hex().removeprefix("0x"), signed_data,
                     expiresSeconds=3600)  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "address", "alias", "chain", "perpsAlpha"}
    assert body["address"] == wallet.address
    assert body["chain"] == "bsc"
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600
    creds = {"address": wallet.address, "token": body["token"],
             "signing_key": base58.b58encode(bytes(request_key)).decode()}  # fmt: skip
    api = Api(sim, creds)
    try:
        unfunded = api.get("/api/query_balance")
        assert unfunded.status_code == 404
        assert "user balance not found" in unfunded.json()["message"]
        assert api.get_json("/api/query_positions") == []
        api.control("POST", "/sim/deposit", {"address": wallet.address.lower(), "amount": "1000"})
        order = {"symbol": "BTC-USD", "side": "buy", "order_type": "market", "qty": "0.001",
                 "time_in_force": "ioc", "reduce_only": False}  # fmt: skip
        assert api.post("/api/new_order", order).json()["code"] == 0
        assert api.get_json("/api/query_positions")[0]["qty"] == "0.001"
    finally:
        api.close()


def test_a_lower_case_address_and_unprefixed_signature_log_in(sim: str) -> None:
    wallet = Account.create()
    signed_data, payload = prepare(sim, "bsc", wallet.address.lower(), SigningKey.generate())
    signature = Account.sign_message(
        encode_defunct(text=payload["message"]), private_key=wallet.key
    )
    response = login(sim, "bsc", signature.signature.hex().removeprefix("0x"), signed_data)
    assert response.status_code == 200, response.text


def test_a_wrong_wallet_signature_is_refused(sim: str) -> None:
    signed_data, payload = prepare(sim, "bsc", Account.create().address, SigningKey.generate())
    other = Account.sign_message(
        encode_defunct(text=payload["message"]), private_key=Account.create().key
    )
    response = login(sim, "bsc", other.signature.hex(), signed_data)
    assert response.status_code == 401
    assert "token" not in response.json()


def test_a_full_solana_login(sim: str) -> None:
    wallet = SigningKey.generate()
    address = base58.b58encode(bytes(wallet.verify_key)).decode()
    request_key = SigningKey.generate()
    signed_data, payload = prepare(sim, "solana", address, request_key)
    message = payload["message"].encode()
    envelope = {
        "input": payload,
        "output": {
            "signedMessage": list(message),
            "signature": list(wallet.sign(message).signature),
            "account": {"publicKey": list(bytes(wallet.verify_key))},
        },
    }
    signature = base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()
    response = login(sim, "solana", signature, signed_data)
    assert response.status_code == 200, response.text
    assert response.json()["chain"] == "solana"
    assert response.json()["address"] == address
    token = response.json()["token"]
    positions = httpx.get(
        f"{sim}/api/query_positions", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert positions.status_code == 200


def test_prepare_signin_refuses_a_bad_chain(sim: str) -> None:
    response = httpx.post(
        f"{sim}/v1/offchain/prepare-signin?chain=eth",
        json={"address": "0x" + "1" * 40, "requestId": "x"},
        timeout=10,
    )
    assert response.status_code == 400
