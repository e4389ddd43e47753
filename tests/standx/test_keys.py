from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from standx import keys
from standx.errors import KeyFormatError

SEED_1 = bytes(range(1, 33))
PUB_1 = "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"


@pytest.mark.parametrize(
    "text",
    [
        "4wBqpZM9xaSheZzJSMawUKKwhdpChKbZ5eu5ky4Vigw",  # base58 seed, as the session page shows
        "  4wBqpZM9xaSheZzJSMawUKKwhdpChKbZ5eu5ky4Vigw\n",  # pasted with whitespace
        SEED_1.hex(),
        "0x" + SEED_1.hex(),
        SEED_1.hex() + PUB_1,  # 64-byte seed || public key, hex
        base64.b64encode(SEED_1).decode(),
    ],
)
def test_it_accepts_every_key_format_and_derives_the_same_public_key(text: str) -> None:
    key = keys.parse_signing_key(text)
    assert bytes(key.verify_key).hex() == PUB_1
    assert keys.public_key_base58(key) == "9C6hybhQ6Aycep9jaUnP6uL9ZYvDjUp1aSkFWPUFJtpj"
    assert keys.seed_base58(key) == "4wBqpZM9xaSheZzJSMawUKKwhdpChKbZ5eu5ky4Vigw"


def test_it_accepts_the_64_byte_keypair_in_base58() -> None:
    import base58

    text = base58.b58encode(SEED_1 + bytes.fromhex(PUB_1)).decode()
    assert bytes(keys.parse_signing_key(text).verify_key).hex() == PUB_1


def test_a_leading_zero_seed_is_42_characters_in_base58() -> None:
    key = keys.parse_signing_key("1thX6LZfHDZZKUs92febYZhYRcXddmzfzF2NvTkPNE")
    assert keys.public_key_base58(key) == "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF"


@pytest.mark.parametrize(
    "text",
    ["", "not a key", "abc", SEED_1.hex()[:-2], SEED_1.hex() + "00" * 32],
)
def test_it_rejects_bad_keys_without_echoing_them(text: str) -> None:
    with pytest.raises(KeyFormatError) as info:
        keys.parse_signing_key(text)
    if len(text) > 4:
        assert text not in str(info.value)


def _jwt(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def test_it_decodes_the_token_expiry() -> None:
    token = _jwt({"address": "0xabc", "exp": 1767225600})
    assert keys.token_expiry(token) == datetime(2026, 1, 1, tzinfo=UTC)
    assert keys.jwt_header(token) == {"alg": "HS256", "typ": "JWT"}


def test_a_token_without_exp_has_no_expiry() -> None:
    assert keys.token_expiry(_jwt({"sub": "x"})) is None


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.!!!.c", "e30.W10.x"])
def test_it_rejects_things_that_are_not_jwts(token: str) -> None:
    with pytest.raises(KeyFormatError):
        keys.token_expiry(token)


OUT_OF_TIME = [
    "1e20",
    "-1e20",
    "1e30",
    "-1e30",
    str(2**63),
    str(-(2**63)),
    "Infinity",
    "-Infinity",
    "NaN",
]


@pytest.mark.parametrize("exp", OUT_OF_TIME)
def test_an_expiry_that_names_no_moment_is_refused_in_words(exp: str) -> None:
    header = base64.urlsafe_b64encode(b'{"alg": "HS256"}').rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(f'{{"sub": "x", "exp": {exp}}}'.encode()).rstrip(b"=")
    with pytest.raises(KeyFormatError, match=r"expiry .* is not a time"):
        keys.token_expiry(f"{header}.{claims.decode()}.c2ln")
