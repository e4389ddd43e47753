from __future__ import annotations

import base64
import os

import pytest
from django.test import override_settings

from accounts import crypto


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_it_round_trips_and_hides_the_plaintext() -> None:
    keys = crypto.parse_keys([new_key()])
    stored = crypto.encrypt("eyJ.secret.token", context="standx-account:1:token", keys=keys)
    assert "secret" not in stored
    assert stored.startswith(f"v1.{keys[0].id}.")
    assert crypto.decrypt(stored, context="standx-account:1:token", keys=keys) == "eyJ.secret.token"


def test_two_encryptions_of_the_same_secret_differ() -> None:
    keys = crypto.parse_keys([new_key()])
    one = crypto.encrypt("same", context="c", keys=keys)
    assert one != crypto.encrypt("same", context="c", keys=keys)


@pytest.mark.parametrize("context", ["standx-account:2:token", "standx-account:1:signing_key"])
def test_a_ciphertext_copied_to_another_row_or_field_does_not_decrypt(context: str) -> None:
    keys = crypto.parse_keys([new_key()])
    stored = crypto.encrypt("secret", context="standx-account:1:token", keys=keys)
    with pytest.raises(crypto.DecryptionError, match="wrong row or tampered"):
        crypto.decrypt(stored, context=context, keys=keys)


def test_a_wrong_key_fails_loudly() -> None:
    stored = crypto.encrypt("secret", context="c", keys=crypto.parse_keys([new_key()]))
    with pytest.raises(crypto.DecryptionError, match="not in CREDENTIAL_KEYS"):
        crypto.decrypt(stored, context="c", keys=crypto.parse_keys([new_key()]))


def test_a_tampered_ciphertext_fails() -> None:
    keys = crypto.parse_keys([new_key()])
    stored = crypto.encrypt("secret", context="c", keys=keys)
    flipped = stored[:-3] + ("A" if stored[-3] != "A" else "B") + stored[-2:]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(flipped, context="c", keys=keys)


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = new_key(), new_key()
    stored_old = crypto.encrypt("secret", context="c", keys=crypto.parse_keys([old]))
    both = crypto.parse_keys([new, old])
    assert crypto.decrypt(stored_old, context="c", keys=both) == "secret"
    assert crypto.key_id_of(crypto.encrypt("x", context="c", keys=both)) == both[0].id


@pytest.mark.parametrize("values", [[], ["not base64!"], [base64.b64encode(b"short").decode()]])
def test_missing_or_malformed_keys_fail_loudly(values: list[str]) -> None:
    with pytest.raises(crypto.CredentialKeyError):
        crypto.parse_keys(values)


def test_settings_keys_are_used_and_checked() -> None:
    with override_settings(CREDENTIAL_KEYS=[]), pytest.raises(crypto.CredentialKeyError):
        crypto.encrypt("x", context="c")
    key = new_key()
    with override_settings(CREDENTIAL_KEYS=[key]):
        assert crypto.decrypt(crypto.encrypt("x", context="c"), context="c") == "x"


def test_key_reprs_do_not_show_the_secret() -> None:
    key = crypto.parse_keys([new_key()])[0]
    assert base64.b64encode(key.secret).decode() not in repr(key)
