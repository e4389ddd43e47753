"""Errors in plain words, secrets kept out of every repr and message, and no withdrawal."""

from __future__ import annotations

import ast
import inspect
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import ocx
from ocx import errors
from ocx.auth import ApiKey, Session
from ocx.ratelimit import NoRateLimit
from ocx.rest import OCXClient
from tests.ocx.conftest import sim_control

SECRET = "ocx_sk_SUPERSECRETvalue123456"


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> OCXClient:
    return OCXClient(
        "https://ocx.test",
        api_key=ApiKey(SECRET),
        limiter=NoRateLimit(),
        transport=httpx.MockTransport(handler),
        sleep=lambda s: None,
    )


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (
            400,
            {"error": "INSUFFICIENT_BALANCE", "message": "Insufficient perps balance"},
            errors.BadRequestError,
            "INSUFFICIENT_BALANCE",
        ),
        (
            401,
            {"error": "AuthError", "code": "SESSION_EXPIRED", "message": "expired"},
            errors.AuthExpiredError,
            "SESSION_EXPIRED",
        ),
        (
            403,
            {"error": "INSUFFICIENT_SCOPE", "message": "no"},
            errors.ForbiddenError,
            "INSUFFICIENT_SCOPE",
        ),
        (
            409,
            {"error": "DUPLICATE_CLIENT_ORDER_ID", "message": "used"},
            errors.DuplicateOrderError,
            "DUPLICATE_CLIENT_ORDER_ID",
        ),
        (
            422,
            {"error": "MarginError", "code": "INSUFFICIENT_MARGIN", "message": "m"},
            errors.RejectedError,
            "INSUFFICIENT_MARGIN",
        ),
    ],
)
def test_it_maps_each_documented_error(
    status: int, body: dict[str, Any], kind: type[errors.APIError], code: str
) -> None:
    client = _client(lambda r: httpx.Response(status, json=body))
    with pytest.raises(kind) as caught:
        client.cancel_all()
    assert caught.value.code == code


def test_a_429_carries_retry_after_ms_and_a_get_waits_it_out() -> None:
    answers = iter(
        [
            httpx.Response(
                429,
                json={"error": "RateLimitError", "code": "ORDER_RATE_LIMIT", "retryAfterMs": 1500},
            ),
            httpx.Response(200, json=[]),
        ]
    )
    slept: list[float] = []
    client = OCXClient(
        "https://ocx.test",
        api_key=ApiKey(SECRET),
        sleep=slept.append,
        transport=httpx.MockTransport(lambda r: next(answers)),
    )
    assert client.positions() == []
    assert slept and slept[0] >= 1.5
    limited = _client(
        lambda r: httpx.Response(429, json={"error": "ORDER_RATE_LIMIT", "retryAfterMs": 2500})
    )
    with pytest.raises(errors.RateLimitedError) as caught:
        limited.cancel_all()  # a POST is never repeated
    assert caught.value.retry_after == 2.5


def test_secrets_never_reach_reprs_messages_or_pickles(
    quiet_sim: str, alice_wallet: dict[str, Any]
) -> None:
    echo = _client(
        lambda r: httpx.Response(
            400, json={"error": "X", "message": f"bad key {r.headers['x-api-key']}"}
        )
    )
    with pytest.raises(errors.BadRequestError) as caught:
        echo.cancel_all()
    client = OCXClient(quiet_sim, limiter=NoRateLimit())
    session = client.sign_in_with_wallet_key(alice_wallet["wallet_private_key"])
    client.api_key = ApiKey(alice_wallet["api_key"])
    texts = [
        repr(caught.value),
        str(caught.value),
        repr(session),
        str(session),
        repr(client),
        repr(client.api_key),
    ]
    for secret in (
        SECRET,
        session.token,
        alice_wallet["api_key"],
        alice_wallet["wallet_private_key"],
    ):
        assert all(secret not in text for text in texts)
    for thing in (session, client.api_key, client):
        with pytest.raises(TypeError):
            pickle.dumps(thing)
    with pytest.raises(errors.KeyFormatError) as bad:
        Session("not-a-jwt")
    assert "not-a-jwt" not in str(bad.value)


def _string_constants(tree: ast.AST) -> list[str]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_code_in_ocx_names_the_withdraw_endpoint_except_to_refuse_it() -> None:
    package = Path(inspect.getfile(ocx)).parent
    mentions = {
        path.name: [s for s in _string_constants(ast.parse(path.read_text())) if "withdraw" in s]
        for path in package.rglob("*.py")
    }
    assert {name: found for name, found in mentions.items() if found} == {
        "rest.py": ["/wallet/withdraw"]  # FORBIDDEN_PATHS, which _request refuses
    }
    assert not [name for name in dir(OCXClient) if "withdraw" in name.lower()]


def test_no_call_reaches_withdraw_and_the_simulator_saw_none(
    quiet_sim: str, alice_wallet: dict[str, Any]
) -> None:
    sent: list[str] = []
    real = httpx.HTTPTransport()

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return real.handle_request(request)

    client = OCXClient(quiet_sim, limiter=NoRateLimit(), transport=httpx.MockTransport(recording))
    client.sign_in_with_wallet_key(alice_wallet["wallet_private_key"])
    client.api_key = ApiKey(alice_wallet["api_key"])
    calls: list[Callable[[], Any]] = [
        client.markets,
        client.fees,
        client.insurance_fund,
        client.positions,
        client.orders,
        client.open_orders,
        client.fills,
        client.perps_balances,
        client.portfolio,
        client.portfolio_balances,
        client.wallet_balance,
        client.wallet_assets,
        client.wallet_history,
        client.settlements,
        client.list_api_keys,
        client.cancel_all,
        lambda: client.transfer("wallet", "perps", "1"),
        lambda: client.place_order("BTC-PERP", "buy", "0.001", order_type="market"),
        lambda: client.close_position("BTC-PERP"),
    ]
    for call in calls:
        call()
    with pytest.raises(errors.ForbiddenError) as refused:
        client._request("POST", "/wallet/withdraw", tier="session", body={"amount": "1"})
    assert refused.value.code == "WITHDRAW_REFUSED"
    assert not [path for path in sent if "withdraw" in path]
    ledger = sim_control(quiet_sim, "GET", f"/sim/ledger?address={alice_wallet['wallet_address']}")
    assert ledger["withdrawFlagged"] is False
