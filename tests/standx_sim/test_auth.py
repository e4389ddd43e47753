"""The auth service: signedData, JWKS, EIP-191 and Solana logins, access tokens."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from nacl.signing import SigningKey

from standx_sim.auth import AuthService
from standx_sim.errors import ApiError
from standx_sim.signing import public_key_base58

WEB3_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
HARDHAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def challenge(auth: AuthService, chain: str, address: str, request_key: SigningKey) -> str:
    body = {"address": address, "requestId": public_key_base58(request_key)}
    answer = auth.prepare_signin(chain, body)
    assert answer["success"] is True
    return str(answer["signedData"])


def claims(signed_data: str) -> dict[str, Any]:
    return jwt.decode(signed_data, options={"verify_signature": False})


def evm_signature(key: str, message: str) -> str:
    return "0x" + Account.sign_message(
        encode_defunct(text=message), private_key=key
    ).signature.hex().removeprefix("0x")


def solana_envelope(wallet: SigningKey, payload: dict[str, Any], *, as_string: bool = False) -> str:
    message = payload["message"].encode()
    envelope = {
        "input": payload["message"] if as_string else payload,
        "output": {
            "signedMessage": list(message),
            "signature": list(wallet.sign(message).signature),
            "account": {"publicKey": list(bytes(wallet.verify_key))},
        },
    }
    return base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()


def test_it_matches_the_eip191_reference_vector() -> None:
    signed = Account.sign_message(encode_defunct(text="Some data"), private_key=WEB3_KEY)
    assert "0x" + signed.message_hash.hex().removeprefix("0x") == (
        "0x1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
    )
    assert "0x" + signed.signature.hex().removeprefix("0x") == (
        "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
        "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
    )
    recovered = Account.recover_message(
        encode_defunct(text="Some data"), signature=signed.signature
    )
    assert recovered == Account.from_key(WEB3_KEY).address
    assert recovered.startswith("0x2c7536E3")


def test_the_hardhat_key_has_its_well_known_address() -> None:
    assert (
        Account.from_key(HARDHAT_KEY).address.lower()
        == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    )


def test_signed_data_carries_the_documented_payload_and_verifies_with_the_jwks() -> None:
    auth = AuthService(seed=1)
    address = Account.from_key(HARDHAT_KEY).address
    request_key = SigningKey.generate()
    signed_data = challenge(auth, "bsc", address, request_key)
    header = jwt.get_unverified_header(signed_data)
    assert header["alg"] == "ES256"
    assert header["typ"] == "JWT"
    assert header["kid"] == auth.kid
    assert signed_data.startswith("eyJhbGciOiJFUzI1NiIs")
    jwk = auth.jwks()["keys"][0]
    assert {"kty", "crv", "alg", "kid", "x", "y"} <= set(jwk)
    key = jwt.PyJWK(jwk).key
    payload = jwt.decode(signed_data, key, algorithms=["ES256"])
    assert payload["domain"] == "standx.com"
    assert payload["uri"] == "https://standx.com"
    assert payload["version"] == "1"
    assert payload["chainId"] == 56
    assert payload["address"] == address
    assert payload["requestId"] == public_key_base58(request_key)
    assert payload["exp"] - payload["iat"] == 180
    assert len(payload["nonce"]) == 17
    assert payload["nonce"].isalnum()
    assert payload["issuedAt"].endswith("Z")
    assert payload["message"].startswith(
        f"standx.com wants you to sign in with your Ethereum account:\n{address}\n"
    )
    assert payload["statement"] in payload["message"]


@pytest.mark.parametrize(
    ("address_form", "with_0x"),
    [("checksum", True), ("checksum", False), ("lower", True), ("lower", False)],
)
def test_it_logs_in_an_evm_wallet_in_every_accepted_form(address_form: str, with_0x: bool) -> None:
    auth = AuthService(seed=1)
    address = Account.from_key(HARDHAT_KEY).address
    if address_form == "lower":
        address = address.lower()
    request_key = SigningKey.generate()
    signed_data = challenge(auth, "bsc", address, request_key)
    signature = evm_signature(HARDHAT_KEY, claims(signed_data)["message"])
    if not with_0x:
        signature = signature[2:]
    result = auth.login("bsc", {"signature": signature, "signedData": signed_data})
    assert result.address == address
    assert result.request_key is not None
    assert bytes(result.request_key) == bytes(request_key.verify_key)


def test_it_refuses_an_evm_signature_by_another_wallet() -> None:
    auth = AuthService(seed=1)
    signed_data = challenge(
        auth, "bsc", Account.from_key(HARDHAT_KEY).address, SigningKey.generate()
    )
    signature = evm_signature(WEB3_KEY, claims(signed_data)["message"])
    with pytest.raises(ApiError) as caught:
        auth.login("bsc", {"signature": signature, "signedData": signed_data})
    assert caught.value.status == 401


def test_a_challenge_logs_in_only_once() -> None:
    auth = AuthService(seed=1)
    signed_data = challenge(
        auth, "bsc", Account.from_key(HARDHAT_KEY).address, SigningKey.generate()
    )
    body = {
        "signature": evm_signature(HARDHAT_KEY, claims(signed_data)["message"]),
        "signedData": signed_data,
    }
    auth.login("bsc", body)
    with pytest.raises(ApiError):
        auth.login("bsc", body)


def test_an_expired_challenge_is_refused() -> None:
    moment = [datetime.now(UTC) - timedelta(seconds=200)]
    auth = AuthService(seed=1, clock=lambda: moment[0])
    signed_data = challenge(
        auth, "bsc", Account.from_key(HARDHAT_KEY).address, SigningKey.generate()
    )
    body = {
        "signature": evm_signature(HARDHAT_KEY, claims(signed_data)["message"]),
        "signedData": signed_data,
    }
    with pytest.raises(ApiError) as caught:
        auth.login("bsc", body)
    assert caught.value.status == 401
    assert "expired" in caught.value.message


def test_it_logs_in_a_solana_wallet_with_the_docs_envelope() -> None:
    auth = AuthService(seed=1)
    wallet = SigningKey.generate()
    address = public_key_base58(wallet)
    signed_data = challenge(auth, "solana", address, SigningKey.generate())
    signature = solana_envelope(wallet, claims(signed_data))
    assert signature.startswith("eyJpbnB1dCI6ey")
    assert (
        auth.login("solana", {"signature": signature, "signedData": signed_data}).address == address
    )


def test_it_accepts_the_string_input_variant_of_the_solana_envelope() -> None:
    auth = AuthService(seed=1)
    wallet = SigningKey.generate()
    signed_data = challenge(auth, "solana", public_key_base58(wallet), SigningKey.generate())
    signature = solana_envelope(wallet, claims(signed_data), as_string=True)
    # base64 of '{"input":"'; the protocol notes' 14th character ("j") depends on the message.
    assert signature.startswith("eyJpbnB1dCI6I")
    auth.login("solana", {"signature": signature, "signedData": signed_data})


def test_it_refuses_a_solana_envelope_signed_by_another_key() -> None:
    auth = AuthService(seed=1)
    wallet = SigningKey.generate()
    signed_data = challenge(auth, "solana", public_key_base58(wallet), SigningKey.generate())
    with pytest.raises(ApiError) as caught:
        auth.login(
            "solana",
            {
                "signature": solana_envelope(SigningKey.generate(), claims(signed_data)),
                "signedData": signed_data,
            },
        )
    assert caught.value.status == 401


def test_prepare_signin_validates_its_input() -> None:
    auth = AuthService(seed=1)
    key = public_key_base58(SigningKey.generate())
    for chain, body in [
        ("eth", {"address": "0x" + "a" * 40, "requestId": key}),
        ("bsc", {"address": "0x1234", "requestId": key}),
        ("bsc", {"address": "0x" + "a" * 40}),
        ("bsc", {"address": "0x" + "a" * 40, "requestId": ""}),
        ("solana", {"address": "0x" + "a" * 40, "requestId": key}),
    ]:
        with pytest.raises(ApiError) as caught:
            auth.prepare_signin(chain, body)
        assert caught.value.status == 400


def test_prepare_signin_takes_any_request_id_as_live_does() -> None:
    auth = AuthService(seed=1)
    for request_id in ("6f071beb-1b81-4c68-a8bf-66f1589c2146", "not-base58-0OIl"):
        signed_data = auth.prepare_signin(
            "bsc", {"address": "0x" + "a" * 40, "requestId": request_id}
        )
        assert claims(signed_data["signedData"])["requestId"] == request_id


def test_access_tokens_are_hs256_with_exp_and_bound_to_the_key() -> None:
    auth = AuthService(seed=1)
    key = SigningKey.generate()
    token = auth.mint("bsc", "0xAbC0000000000000000000000000000000000001", key.verify_key, 3600)
    assert token.startswith("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9")
    payload = claims(token)
    assert payload["exp"] - payload["iat"] == 3600
    assert payload["sub"] == "bsc_0xabc0000000000000000000000000000000000001"
    info = auth.resolve(f"Bearer {token}")
    assert info.key is not None
    assert bytes(info.key) == bytes(key.verify_key)


def test_an_expired_or_foreign_token_is_refused() -> None:
    auth = AuthService(seed=1)
    expired = auth.mint("bsc", "0x" + "1" * 40, SigningKey.generate().verify_key, -10)
    with pytest.raises(ApiError) as caught:
        auth.resolve(f"Bearer {expired}")
    assert caught.value.status == 401
    foreign = AuthService(seed=2).mint("bsc", "0x" + "1" * 40, SigningKey.generate().verify_key)
    with pytest.raises(ApiError):
        auth.resolve(f"Bearer {foreign}")
    with pytest.raises(ApiError):
        auth.resolve(None)
