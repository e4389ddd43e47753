"""The VAPID pair: parsed, matched and refused in words naming the variable."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from standx_web.vapid import (
    VapidConfigError,
    b64url_decode,
    generate_private_key,
    public_key_of,
    vapid_keys,
)

KEY = generate_private_key()


def test_a_generated_key_gives_the_65_byte_point_browsers_subscribe_with() -> None:
    keys = vapid_keys(KEY, None, "mailto:ops@example.com")
    assert keys is not None
    assert len(b64url_decode(keys.private_key)) == 32
    point = b64url_decode(keys.public_key)
    assert (len(point), point[0]) == (65, 4)
    assert KEY not in repr(keys)


def test_a_pem_key_is_read_as_the_same_pair() -> None:
    pem = ec.derive_private_key(int.from_bytes(b64url_decode(KEY), "big"), ec.SECP256R1())
    text = pem.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    keys = vapid_keys(text, public_key_of(KEY), "https://portfolio.example.com")
    assert keys is not None
    assert keys.private_key == KEY


def test_no_private_key_means_no_push() -> None:
    assert vapid_keys(None, None, None) is None


@pytest.mark.parametrize(
    ("private", "public", "subject", "message"),
    [
        ("not-a-key", None, "mailto:a@b.c", "VAPID_PRIVATE_KEY is not a P-256 private key"),
        (KEY, public_key_of(generate_private_key()), "mailto:a@b.c", "not the public half"),
        (KEY, None, None, "VAPID_SUBJECT is required"),
        (KEY, None, "ops@example.com", "VAPID_SUBJECT must be a mailto: address"),
        (KEY, None, "http://example.com", "VAPID_SUBJECT must be"),
        (None, public_key_of(KEY), None, "VAPID_PUBLIC_KEY is set but VAPID_PRIVATE_KEY is not"),
    ],
)
def test_it_refuses_an_unusable_pair_naming_the_variable(
    private: str | None, public: str | None, subject: str | None, message: str
) -> None:
    with pytest.raises(VapidConfigError, match=message):
        vapid_keys(private, public, subject)


def test_the_vapid_keys_command_prints_a_pair_that_configures_push() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("vapid_keys", stdout=out)
    printed = dict(line.split("=", 1) for line in out.getvalue().splitlines() if "_KEY=" in line)
    keys = vapid_keys(
        printed["VAPID_PRIVATE_KEY"], printed["VAPID_PUBLIC_KEY"], "mailto:ops@example.com"
    )
    assert keys is not None
    assert keys.public_key == printed["VAPID_PUBLIC_KEY"]
