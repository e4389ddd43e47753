"""The body-signature test vectors of the protocol notes (§8)."""

from __future__ import annotations

import base64

import nacl.signing
import pytest

from standx.signing import SIGN_VERSION, encode_body, signature, signed_headers

SEED_0 = bytes(range(32))
SEED_1 = bytes(range(1, 33))
ORDER = (
    '{"symbol":"BTC-USD","side":"buy","order_type":"limit","qty":"0.1","price":"50000",'
    '"time_in_force":"gtc","reduce_only":false}'
)


@pytest.mark.parametrize(
    ("seed", "request_id", "body", "expected"),
    [
        (
            SEED_0,
            "req-1",
            '{"qty":"0.1"}',
            "Ck6QSNPZzx7t+k67o8E8Zkho1GJuCQqo7aDW1FUf8piTRKPMn1zrddgfB0k/67+VtrlRANd7MPimqcJ8WemmDg==",
        ),
        (
            SEED_1,
            "6f071beb-1b81-4c68-a8bf-66f1589c2146",
            ORDER,
            "SaEPHS0B7AiZBW99otunag5lVbfOXAJSFYjtQmlMX0k1bWiOlxoXoytDpqXFjp4akylwQIyVdKCiUX/2YDbCAg==",
        ),
        (
            SEED_1,
            "6f071beb-1b81-4c68-a8bf-66f1589c2146",
            '{"order_id":2424844}',
            "azxakIXMiZW1CKuZAb7ToNZFFfz2W/19hq4kUzk4alMtKgYKrhhi/XwCbf18XeWVOFCPaQ6WyZA6JgvmW8CXBQ==",
        ),
        (
            SEED_0,
            "00000000-0000-4000-8000-000000000000",
            ORDER,
            "MnzBP70jqCRdEFtai+vBQHqxY0nlfRsxwTgbqxqwEgcxJ6gQB45qcZirsBstMM6D1cIQK4eKguCZjgCrGo62Aw==",
        ),
    ],
)
def test_it_reproduces_the_published_vectors(
    seed: bytes, request_id: str, body: str, expected: str
) -> None:
    key = nacl.signing.SigningKey(seed)
    got = signature(key, request_id=request_id, timestamp_ms=1700000000000, body=body.encode())
    assert got == expected
    assert len(got) == 88  # standard base64 with padding, not urlsafe


def test_spaced_json_signs_to_a_different_value_so_the_sent_bytes_must_be_signed() -> None:
    import json

    key = nacl.signing.SigningKey(SEED_0)
    spaced = json.dumps(json.loads(ORDER)).encode()
    got = signature(
        key,
        request_id="00000000-0000-4000-8000-000000000000",
        timestamp_ms=1700000000000,
        body=spaced,
    )
    assert got == (
        "0VA5yUAm3OdNj+zpMqOky3Nw7i6rS3VwKEX/O7+rwYdXIInWJE2XuISVV8ayV+jEWPDw/E/eKuM3orRn0bNCAA=="
    )


def test_encode_body_is_the_compact_docs_form_in_insertion_order() -> None:
    body = {
        "symbol": "BTC-USD",
        "side": "buy",
        "order_type": "limit",
        "qty": "0.1",
        "price": "50000",
        "time_in_force": "gtc",
        "reduce_only": False,
    }
    assert encode_body(body).decode() == ORDER


def test_signed_headers_carry_a_verifiable_signature_over_the_exact_message() -> None:
    key = nacl.signing.SigningKey(SEED_1)
    headers = signed_headers(key, b"", request_id="abc", timestamp_ms=42)
    assert headers["x-request-sign-version"] == SIGN_VERSION == "v1"
    assert headers["x-request-id"] == "abc"
    assert headers["x-request-timestamp"] == "42"
    raw = base64.b64decode(headers["x-request-signature"])
    # An empty body still signs "v1,<id>,<ts>," with the trailing comma.
    key.verify_key.verify(b"v1,abc,42,", raw)


def test_each_signature_gets_a_fresh_uuid_and_a_millisecond_timestamp() -> None:
    key = nacl.signing.SigningKey(SEED_1)
    first, second = signed_headers(key, b"{}"), signed_headers(key, b"{}")
    assert first["x-request-id"] != second["x-request-id"]
    assert len(first["x-request-timestamp"]) == 13
