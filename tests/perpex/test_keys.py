"""The pasted API key: a JWT read for its expiry, account and permissions, never shown."""

from __future__ import annotations

import base64
import json
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from perpex.errors import KeyFormatError
from perpex.keys import ApiKey


def _part(data: Any) -> str:
    raw = data if isinstance(data, str) else json.dumps(data)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def jwt(claims: Any) -> str:
    return f"{_part({'alg': 'HS256', 'typ': 'JWT'})}.{_part(claims)}.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("claims", "expires"),
    [
        ({"exp": 1767225600}, datetime(2026, 1, 1, tzinfo=UTC)),
        ({"exp": 1767225600.0}, datetime(2026, 1, 1, tzinfo=UTC)),
        ({"exp": "1767225600"}, datetime(2026, 1, 1, tzinfo=UTC)),
        ({}, None),
        ({"exp": 10**30}, None),
        ('{"exp": 1e400}', None),
        ('{"exp": NaN}', None),
        ('{"exp": -Infinity}', None),
        ({"exp": "soon"}, None),
        ({"exp": True}, None),
        ({"exp": [1]}, None),
    ],
)
def test_the_expiry_is_read_when_usable_and_never_fails(claims: Any, expires: Any) -> None:
    assert ApiKey(jwt(claims)).expires_at == expires


@pytest.mark.parametrize(
    ("claims", "can_trade"),
    [
        ({"perms": ["read", "trade"]}, True),
        ({"permissions": ["read"]}, False),
        ({"scope": "read trade"}, True),
        ({}, None),
    ],
)
def test_permissions_are_read_from_the_usual_claims(claims: Any, can_trade: bool | None) -> None:
    assert ApiKey(jwt(claims)).can_trade() is can_trade


def test_a_bearer_prefix_and_whitespace_are_forgiven() -> None:
    token = jwt({"sub": "acct-7"})
    key = ApiKey(f"  Bearer {token}\n")
    assert (key.token, key.account_id) == (token, "acct-7")


@pytest.mark.parametrize(
    "text",
    ["", "not-a-jwt", "a.b", "a.b.c", f"{_part('[1]')}.{_part({})}.x", "eyJ.eyJ.x", "ünï.cø.dé"],
)
def test_what_is_not_a_jwt_is_refused_without_echoing_it(text: str) -> None:
    with pytest.raises(KeyFormatError) as raised:
        ApiKey(text)
    assert "JWT" in str(raised.value)
    if text:
        assert text not in str(raised.value)


def test_the_key_stays_out_of_its_repr_and_cannot_be_pickled() -> None:
    token = jwt({"sub": "acct-1", "exp": 1767225600})
    key = ApiKey(token)
    assert token not in repr(key)
    assert "acct-1" in repr(key)
    assert key.expired(datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)
