"""Full wallet logins over real HTTP: EVM (eth-account signs) and Solana (PyNaCl signs)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import base58
import httpx
import jwt
from eth_account import Account
from eth_account.messages import encode_defunct
from nacl.signing import SigningKey

from tests.standx_sim.helpers import Api


def prepare(
    sim: str, chain: str, address: str, request_key: SigningKey | str
) -> tuple[str, dict[str, Any]]:
    """The challenge for `address`; `request_key` is the login key, or a requestId as sent."""
    request_id = (
        request_key
        if isinstance(request_key, str)
        else base58.b58encode(bytes(request_key.verify_key)).decode()
    )
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
    response = login(
        sim,
        "bsc",
        "0x" + signature.signature.hex().removeprefix("0x"),
        signed_data,
        expiresSeconds=3600,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "address", "alias", "chain", "perpsAlpha"}
    assert body["address"] == wallet.address
    assert body["chain"] == "bsc"
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600
    creds = {
        "address": wallet.address,
        "token": body["token"],
        "signing_key": base58.b58encode(bytes(request_key)).decode(),
    }
    api = Api(sim, creds)
    try:
        unfunded = api.get("/api/query_balance")
        assert unfunded.status_code == 404
        assert "user balance not found" in unfunded.json()["message"]
        assert api.get_json("/api/query_positions") == []
        api.control("POST", "/sim/deposit", {"address": wallet.address.lower(), "amount": "1000"})
        order = {
            "symbol": "BTC-USD",
            "side": "buy",
            "order_type": "market",
            "qty": "0.001",
            "time_in_force": "ioc",
            "reduce_only": False,
        }
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


def solana_envelope(wallet: SigningKey, given_input: Any, message: bytes) -> str:
    """Standard base64 of the compact JSON envelope of protocol section 1.5."""
    envelope = {
        "input": given_input,
        "output": {
            "signedMessage": list(message),
            "signature": list(wallet.sign(message).signature),
            "account": {"publicKey": list(bytes(wallet.verify_key))},
        },
    }
    return base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()


def wallet_standard_input(payload: dict[str, Any]) -> dict[str, Any]:
    """The Solana Wallet Standard `signIn` input: the challenge's fields, but no `message`."""
    return {
        "domain": payload["domain"],
        "address": payload["address"],
        "statement": payload["statement"],
        "uri": payload["uri"],
        "version": payload["version"],
        "chainId": str(payload["chainId"]),
        "nonce": payload["nonce"],
        "issuedAt": payload["issuedAt"],
        "requestId": payload["requestId"],
    }


def test_a_full_solana_login(sim: str) -> None:
    wallet = SigningKey.generate()
    address = base58.b58encode(bytes(wallet.verify_key)).decode()
    request_key = SigningKey.generate()
    signed_data, payload = prepare(sim, "solana", address, request_key)
    signature = solana_envelope(wallet, payload, payload["message"].encode())
    response = login(sim, "solana", signature, signed_data)
    assert response.status_code == 200, response.text
    assert response.json()["chain"] == "solana"
    assert response.json()["address"] == address
    token = response.json()["token"]
    positions = httpx.get(
        f"{sim}/api/query_positions", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert positions.status_code == 200


def test_it_accepts_the_wallet_standard_solana_sign_in_input_without_a_message(sim: str) -> None:
    wallet = SigningKey.generate()
    address = base58.b58encode(bytes(wallet.verify_key)).decode()
    signed_data, payload = prepare(sim, "solana", address, SigningKey.generate())
    given_input = wallet_standard_input(payload)
    assert "message" not in given_input
    signature = solana_envelope(wallet, given_input, payload["message"].encode())
    response = login(sim, "solana", signature, signed_data)
    assert response.status_code == 200, response.text
    assert response.json()["address"] == address


def test_it_refuses_a_solana_signed_message_other_than_the_challenge(sim: str) -> None:
    wallet = SigningKey.generate()
    address = base58.b58encode(bytes(wallet.verify_key)).decode()
    signed_data, payload = prepare(sim, "solana", address, SigningKey.generate())
    # The input claims the challenge, but the wallet signed other text: the signed bytes decide.
    other = payload["message"].replace("Nonce:", "Nonce: x").encode()
    response = login(sim, "solana", solana_envelope(wallet, payload, other), signed_data)
    assert response.status_code == 401
    assert response.json()["message"] == "signed message does not match the challenge"


def test_it_refuses_a_solana_signature_that_does_not_verify(sim: str) -> None:
    wallet = SigningKey.generate()
    address = base58.b58encode(bytes(wallet.verify_key)).decode()
    signed_data, payload = prepare(sim, "solana", address, SigningKey.generate())
    envelope = json.loads(base64.b64decode(solana_envelope(wallet, None, b"")))
    envelope["output"]["signedMessage"] = list(payload["message"].encode())  # signed b"", not it
    signature = base64.b64encode(json.dumps(envelope).encode()).decode()
    response = login(sim, "solana", signature, signed_data)
    assert response.status_code == 401
    assert response.json()["message"] == "invalid signature"


def stranger_api(sim: str, request: SigningKey | str) -> Api:
    """A wallet logged in with `request` as its requestId, signing bodies with an unbound key."""
    wallet = Account.create()
    signed_data, payload = prepare(sim, "bsc", wallet.address, request)
    signature = Account.sign_message(
        encode_defunct(text=payload["message"]), private_key=wallet.key
    )
    response = login(sim, "bsc", signature.signature.hex(), signed_data)
    assert response.status_code == 200, response.text
    creds = {
        "address": wallet.address,
        "token": response.json()["token"],
        "signing_key": base58.b58encode(bytes(SigningKey.generate())).decode(),
    }
    return Api(sim, creds)


def test_a_uuid_request_id_logs_in_and_reads_but_cannot_sign(sim: str) -> None:
    # No key is bound to this token, so no body signature can verify.
    api = stranger_api(sim, str(uuid.uuid4()))
    try:
        assert api.get_json("/api/query_positions") == []
        order = {
            "symbol": "BTC-USD",
            "side": "buy",
            "order_type": "market",
            "qty": "0.001",
            "time_in_force": "ioc",
            "reduce_only": False,
        }
        refused = api.post("/api/new_order", order)
        assert refused.status_code == 403
        assert refused.json() == {"code": 403, "message": "invalid body signature"}
    finally:
        api.close()


def test_a_body_signature_by_another_key_is_an_invalid_body_signature(sim: str) -> None:
    api = stranger_api(sim, SigningKey.generate())
    try:
        refused = api.post("/api/cancel_order", {"order_id": 1})
        assert refused.status_code == 403
        assert refused.json()["message"] == "invalid body signature"
    finally:
        api.close()


def test_prepare_signin_refuses_a_missing_request_id(sim: str) -> None:
    response = httpx.post(
        f"{sim}/v1/offchain/prepare-signin?chain=bsc",
        json={"address": "0x" + "1" * 40},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["message"] == "requestId is required"


def test_prepare_signin_refuses_a_bad_chain(sim: str) -> None:
    response = httpx.post(
        f"{sim}/v1/offchain/prepare-signin?chain=eth",
        json={"address": "0x" + "1" * 40, "requestId": "x"},
        timeout=10,
    )
    assert response.status_code == 400
