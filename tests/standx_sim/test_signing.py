"""Body-signature verification against the protocol's section 8 vectors and counterexamples."""

from __future__ import annotations

import base64
import json

import base58
import pytest
from nacl.signing import SigningKey

from standx_sim.errors import ApiError
from standx_sim.signing import (
    public_key_base58,
    seed_to_base58,
    signed_message,
    verify_headers,
)

SEED_0 = bytes(range(32))
SEED_1 = bytes(range(1, 33))
ORDER_BODY = (
    '{"symbol":"BTC-USD","side":"buy","order_type":"limit","qty":"0.1","price":"50000",'
    '"time_in_force":"gtc","reduce_only":false}'
)
TS = "1700000000000"
NOW = 1_700_000_000_000


def headers(sig: str, request_id: str, **extra: str) -> dict[str, str]:
    return {
        "x-request-sign-version": "v1",
        "x-request-id": request_id,
        "x-request-timestamp": TS,
        "x-request-signature": sig,
        **extra,
    }


def sign(seed: bytes, message: bytes) -> str:
    return base64.b64encode(SigningKey(seed).sign(message).signature).decode()


def test_it_reproduces_the_published_vector() -> None:
    message = b'v1,req-1,1700000000000,{"qty":"0.1"}'
    assert sign(SEED_0, message) == (
        "Ck6QSNPZzx7t+k67o8E8Zkho1GJuCQqo7aDW1FUf8piTRKPMn1zrddgfB0k/67+VtrlRANd7MPimqcJ8WemmDg=="
    )
    key = SigningKey(SEED_0)
    assert bytes(key.verify_key).hex() == (
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    )
    assert public_key_base58(key) == "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"
    assert seed_to_base58(SEED_0) == "1thX6LZfHDZZKUs92febYZhYRcXddmzfzF2NvTkPNE"
    verify_headers(headers(sign(SEED_0, message), "req-1"), b'{"qty":"0.1"}', key.verify_key, NOW)


def test_it_reproduces_the_realistic_key_vectors() -> None:
    key = SigningKey(SEED_1)
    assert seed_to_base58(SEED_1) == "4wBqpZM9xaSheZzJSMawUKKwhdpChKbZ5eu5ky4Vigw"
    assert bytes(key.verify_key).hex() == (
        "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"
    )
    assert public_key_base58(key) == "9C6hybhQ6Aycep9jaUnP6uL9ZYvDjUp1aSkFWPUFJtpj"
    rid = "6f071beb-1b81-4c68-a8bf-66f1589c2146"
    order_sig = (
        "SaEPHS0B7AiZBW99otunag5lVbfOXAJSFYjtQmlMX0k1bWiOlxoXoytDpqXFjp4akylwQIyVdKCiUX/2YDbCAg=="
    )
    cancel_sig = (
        "azxakIXMiZW1CKuZAb7ToNZFFfz2W/19hq4kUzk4alMtKgYKrhhi/XwCbf18XeWVOFCPaQ6WyZA6JgvmW8CXBQ=="
    )
    assert sign(SEED_1, signed_message("v1", rid, TS, ORDER_BODY.encode())) == order_sig
    verify_headers(headers(order_sig, rid), ORDER_BODY.encode(), key.verify_key, NOW)
    verify_headers(headers(cancel_sig, rid), b'{"order_id":2424844}', key.verify_key, NOW)


def test_a_session_page_seed_decodes_to_the_signing_key() -> None:
    seed = base58.b58decode("4wBqpZM9xaSheZzJSMawUKKwhdpChKbZ5eu5ky4Vigw")
    assert seed == SEED_1
    assert len(base58.b58decode("1thX6LZfHDZZKUs92febYZhYRcXddmzfzF2NvTkPNE")) == 32


class TestCounterexamples:
    rid = "00000000-0000-4000-8000-000000000000"
    compact_sig = (
        "MnzBP70jqCRdEFtai+vBQHqxY0nlfRsxwTgbqxqwEgcxJ6gQB45qcZirsBstMM6D1cIQK4eKguCZjgCrGo62Aw=="
    )
    spaced_sig = (
        "0VA5yUAm3OdNj+zpMqOky3Nw7i6rS3VwKEX/O7+rwYdXIInWJE2XuISVV8ayV+jEWPDw/E/eKuM3orRn0bNCAA=="
    )
    key = SigningKey(SEED_0).verify_key

    def spaced_body(self) -> bytes:
        return json.dumps(json.loads(ORDER_BODY)).encode()

    def test_it_accepts_the_compact_body_with_its_signature(self) -> None:
        verify_headers(headers(self.compact_sig, self.rid), ORDER_BODY.encode(), self.key, NOW)

    def test_it_accepts_the_spaced_body_with_its_own_signature(self) -> None:
        assert (
            sign(SEED_0, signed_message("v1", self.rid, TS, self.spaced_body())) == self.spaced_sig
        )
        verify_headers(headers(self.spaced_sig, self.rid), self.spaced_body(), self.key, NOW)

    def test_it_rejects_the_compact_signature_over_the_spaced_body(self) -> None:
        with pytest.raises(ApiError) as caught:
            verify_headers(headers(self.compact_sig, self.rid), self.spaced_body(), self.key, NOW)
        assert caught.value.status == 403

    def test_it_accepts_a_key_sorted_body_signed_as_sent(self) -> None:
        body = json.dumps(json.loads(ORDER_BODY), sort_keys=True, separators=(",", ":")).encode()
        sig = sign(SEED_0, signed_message("v1", self.rid, TS, body))
        verify_headers(headers(sig, self.rid), body, self.key, NOW)

    def test_it_rejects_the_urlsafe_form_of_a_good_signature(self) -> None:
        urlsafe = self.compact_sig.replace("+", "-").replace("/", "_")
        assert urlsafe.startswith("MnzBP70jqCRdEFtai-vBQHqxY0nl")
        with pytest.raises(ApiError) as caught:
            verify_headers(headers(urlsafe, self.rid), ORDER_BODY.encode(), self.key, NOW)
        assert caught.value.status == 403

    def test_it_rejects_a_stale_timestamp(self) -> None:
        with pytest.raises(ApiError) as caught:
            verify_headers(
                headers(self.compact_sig, self.rid), ORDER_BODY.encode(), self.key, NOW + 61_000
            )
        assert caught.value.status == 403
        assert "signature has expired" in caught.value.message

    def test_it_accepts_a_timestamp_inside_the_window(self) -> None:
        verify_headers(
            headers(self.compact_sig, self.rid), ORDER_BODY.encode(), self.key, NOW - 59_000
        )

    def test_it_treats_a_missing_version_as_v1(self) -> None:
        given = headers(self.compact_sig, self.rid)
        del given["x-request-sign-version"]
        verify_headers(given, ORDER_BODY.encode(), self.key, NOW)

    def test_it_accepts_x_request_version_as_an_alias(self) -> None:
        given = headers(self.compact_sig, self.rid)
        given["x-request-version"] = given.pop("x-request-sign-version")
        verify_headers(given, ORDER_BODY.encode(), self.key, NOW)

    def test_it_rejects_another_version(self) -> None:
        given = headers(self.compact_sig, self.rid, **{"x-request-sign-version": "v2"})
        with pytest.raises(ApiError):
            verify_headers(given, ORDER_BODY.encode(), self.key, NOW)

    def test_it_rejects_a_signature_by_another_key(self) -> None:
        with pytest.raises(ApiError) as caught:
            verify_headers(
                headers(self.compact_sig, self.rid),
                ORDER_BODY.encode(),
                SigningKey(SEED_1).verify_key,
                NOW,
            )
        assert caught.value.message == "invalid body signature"


def test_an_empty_payload_signs_with_a_trailing_comma() -> None:
    message = signed_message("v1", "id-1", TS, b"")
    assert message == b"v1,id-1,1700000000000,"
    key = SigningKey(SEED_1)
    verify_headers(headers(sign(SEED_1, message), "id-1"), b"", key.verify_key, NOW)
