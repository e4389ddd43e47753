from __future__ import annotations

import base64

import pytest

from accounts.twofactor import recovery, totp

# RFC 6238 appendix B's SHA-1 secret; its 8-digit codes end in these 6 digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix_time", "code"),
    [
        (59, "287082"),
        (1111111109, "081804"),
        (1111111111, "050471"),
        (1234567890, "005924"),
        (2000000000, "279037"),
        (20000000000, "353130"),
    ],
)
def test_it_matches_the_rfc_6238_test_vectors(unix_time: int, code: str) -> None:
    assert totp.code_at(RFC_SECRET, unix_time) == code


def test_it_accepts_one_step_of_drift_either_way_and_no_more() -> None:
    now = 1_700_000_000.0
    step = totp.step_at(now)
    for offset in (-1, 0, 1):
        code = totp.code_at(RFC_SECRET, now + offset * totp.STEP_S)
        assert totp.matching_step(RFC_SECRET, code, now) == step + offset
    for offset in (-2, 2):
        code = totp.code_at(RFC_SECRET, now + offset * totp.STEP_S)
        assert totp.matching_step(RFC_SECRET, code, now) is None


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", " 123456"])
def test_it_refuses_anything_but_six_ascii_digits(typed: str) -> None:
    assert totp.matching_step(RFC_SECRET, typed, 1_700_000_000.0) is None


def test_the_provisioning_uri_names_the_issuer_and_the_account() -> None:
    uri = totp.provisioning_uri("ABCDEFGH", account="alice", issuer="StandX Portfolio")
    assert uri.startswith("otpauth://totp/StandX%20Portfolio:alice?secret=ABCDEFGH&")
    assert "issuer=StandX+Portfolio" in uri and "period=30" in uri and "digits=6" in uri


def test_new_secrets_are_160_random_bits() -> None:
    secrets = {totp.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(base64.b32decode(s)) == 20 for s in secrets)


def test_recovery_codes_are_ten_distinct_80_bit_codes_and_typing_is_forgiven() -> None:
    codes = recovery.new_codes()
    assert len(set(codes)) == 10
    code = codes[0]
    assert len(recovery.normalize(code)) == 16
    assert recovery.digest(code.upper().replace("-", " ")) == recovery.digest(code)
    assert recovery.looks_like_recovery_code(code)
    assert not recovery.looks_like_recovery_code("123456")
