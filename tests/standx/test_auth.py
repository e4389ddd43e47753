"""Challenge verification, wallet signatures and the Solana envelope (no network)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.messages import encode_defunct

from standx import auth, keys
from standx.errors import LoginError

REQUEST_ID = "9C6hybhQ6Aycep9jaUnP6uL9ZYvDjUp1aSkFWPUFJtpj"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture(scope="module")
def signer() -> tuple[ec.EllipticCurvePrivateKey, list[dict[str, Any]]]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    other = json.loads(
        jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())
    )
    other.update({"kid": "k0", "alg": "ES256"})
    return key, [other, jwk]


def challenge(key: ec.EllipticCurvePrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    payload = {
        "domain": "standx.com",
        "uri": "https://standx.com",
        "statement": "Sign in with Ethereum to access more StandX features.",
        "version": "1",
        "chainId": 56,
        "nonce": "74Gd7Plf3a1TMVElc",
        "address": ADDRESS,
        "requestId": REQUEST_ID,
        "issuedAt": "2026-11-21T00:00:00.000Z",
        "message": "standx.com wants you to sign in with your Ethereum account:\n" + ADDRESS,
        "iat": now,
        "exp": now + 180,
        **overrides,
    }
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": overrides.pop("_kid", "k1")})


def test_it_verifies_a_challenge_by_the_key_its_kid_names(signer: Any) -> None:
    key, jwks = signer
    payload = auth.verify_signed_data(
        challenge(key), jwks, chain="bsc", address=ADDRESS.lower(), request_id=REQUEST_ID
    )
    assert payload["message"].startswith("standx.com wants you to sign in")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 600}, "expired"),
        ({"requestId": "someone-else"}, "another request"),
        ({"address": "0x0000000000000000000000000000000000000001"}, "another wallet"),
        ({"message": ""}, "no message"),
        ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 4000}, "future"),
    ],
)
def test_it_rejects_challenges_that_are_not_ours_or_not_current(
    signer: Any, overrides: dict[str, Any], reason: str
) -> None:
    key, jwks = signer
    with pytest.raises(LoginError, match=reason):
        auth.verify_signed_data(
            challenge(key, **overrides), jwks, chain="bsc", address=ADDRESS, request_id=REQUEST_ID
        )


def test_it_rejects_a_challenge_signed_by_another_key(signer: Any) -> None:
    _, jwks = signer
    forged = challenge(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(LoginError, match="failed verification"):
        auth.verify_signed_data(forged, jwks, chain="bsc", address=ADDRESS, request_id=REQUEST_ID)


def test_it_rejects_other_algorithms(signer: Any) -> None:
    _, jwks = signer
    hs = jwt.encode({"requestId": REQUEST_ID}, "secret-key-long-enough-0123456789", "HS256")
    with pytest.raises(LoginError, match="ES256"):
        auth.verify_signed_data(hs, jwks, chain="bsc", address=ADDRESS, request_id=REQUEST_ID)


def test_eip191_matches_the_web3_reference_vector() -> None:
    key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    signature = auth.evm_sign(key, "Some data")
    assert signature == (
        "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
        "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
    )
    recovered = Account.recover_message(encode_defunct(text="Some data"), signature=signature)
    assert recovered == auth.evm_address(key)


def test_the_hardhat_key_gives_its_well_known_address() -> None:
    key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    assert auth.evm_address(key).lower() == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert auth.normalise_address("bsc", ADDRESS.lower()) == ADDRESS


@pytest.mark.parametrize(("chain", "address"), [("bsc", "0x123"), ("solana", "0xabc"), ("eth", "")])
def test_it_rejects_addresses_of_the_wrong_shape(chain: str, address: str) -> None:
    with pytest.raises(LoginError):
        auth.normalise_address(chain, address)


def test_the_solana_envelope_has_the_documented_layout() -> None:
    wallet = nacl.signing.SigningKey(bytes(range(32)))
    payload = {"address": keys.public_key_base58(wallet), "message": "hi", "requestId": "r"}
    signature = wallet.sign(b"hi").signature
    encoded = auth.solana_envelope(payload, signature, bytes(wallet.verify_key))
    assert encoded.startswith("eyJpbnB1dCI6ey")
    envelope = json.loads(base64.b64decode(encoded))
    assert list(envelope) == ["input", "output"]
    assert envelope["input"] == payload
    assert list(envelope["output"]) == ["signedMessage", "signature", "account"]
    assert bytes(envelope["output"]["signedMessage"]) == b"hi"
    assert bytes(envelope["output"]["signature"]) == signature
    assert bytes(envelope["output"]["account"]["publicKey"]) == bytes(wallet.verify_key)


def test_a_pending_login_round_trips_through_its_state_without_showing_the_key(
    signer: Any,
) -> None:
    key, _ = signer
    temp = keys.parse_signing_key(bytes(range(1, 33)).hex())
    pending = auth.PendingLogin(
        "bsc", ADDRESS, challenge(key), keys.jwt_claims(challenge(key)), temp
    )
    assert keys.seed_base58(temp) not in repr(pending)
    again = auth.PendingLogin.from_state(pending.to_state())
    assert again.request_id == pending.request_id == REQUEST_ID
    assert again.message == pending.message
