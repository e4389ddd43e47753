"""Error mapping. Shapes the simulator cannot produce go through httpx.MockTransport."""

from __future__ import annotations

import base64
import json
import pickle

import httpx
import nacl.signing
import pytest

from exchange_common.ratelimit import NoRateLimit
from standx import errors
from standx.rest import Credentials, Endpoints, StandXClient, map_error

SEED = bytes(range(1, 33))


def token(claims: dict[str, object] | None = None) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    body = claims or {"address": "0xalice", "exp": 4102444800}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(body)}.c2lnbmF0dXJlLXBhcnQ"


def client_with(handler: object, **kwargs: object) -> StandXClient:
    http = httpx.MockTransport(handler)  # type: ignore[arg-type]
    creds = Credentials(token(), nacl.signing.SigningKey(SEED))
    return StandXClient(
        creds,
        endpoints=Endpoints(perps_url="http://exchange.test"),
        transport=http,
        rate_limiter=NoRateLimit(),
        sleep=lambda s: None,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (400, "qty below min", errors.BadRequestError),
        (401, "unauthorized", errors.AuthenticationError),
        (401, "token has expired", errors.TokenExpiredError),
        (403, "signature has expired", errors.SignatureExpiredError),
        (403, "invalid signature", errors.InvalidSignatureError),
        (403, "forbidden", errors.ForbiddenError),
        (404, "order not found", errors.NotFoundError),
        (429, "too many requests", errors.RateLimitedError),
        (500, "internal", errors.ServerError),
        (503, "maintenance", errors.ServerError),
        (418, "teapot", errors.APIError),
    ],
)
def test_each_status_maps_to_its_exception(
    status: int, message: str, expected: type[errors.APIError]
) -> None:
    error = map_error(status, message, endpoint="query_order")
    assert type(error) is expected
    assert error.status == status and error.message == message
    assert str(error) == f"HTTP {status} from query_order: {message}"


def test_only_rate_limits_server_errors_and_network_trouble_are_transient() -> None:
    assert errors.RateLimitedError("x").transient
    assert errors.ServerError("x").transient
    assert errors.RequestTimeoutError("x").transient
    assert not errors.AuthenticationError("x").transient
    assert not errors.SignatureExpiredError("x").transient
    assert not errors.BadRequestError("x").transient


def test_an_error_code_inside_a_200_body_raises() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"code": 400, "message": "leverage above max"})

    with client_with(handler) as client, pytest.raises(errors.BadRequestError, match="above max"):
        client.change_leverage(symbol="BTC-USD", leverage=200)


def test_an_html_gateway_page_is_a_server_error_with_its_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad gateway</html>")

    with client_with(handler, max_retries=0) as client, pytest.raises(errors.ServerError) as info:
        client.query_positions()
    assert info.value.status == 502


def test_retry_after_is_read_and_honoured_on_gets() -> None:
    calls: list[int] = []
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after": "2"}, json={"message": "slow"})
        return httpx.Response(200, json=[])

    http = httpx.MockTransport(handler)
    client = StandXClient(
        Credentials(token()),
        endpoints=Endpoints(perps_url="http://exchange.test"),
        transport=http,
        rate_limiter=NoRateLimit(),
        sleep=slept.append,
    )
    assert client.query_positions() == []
    assert len(calls) == 2 and slept[0] >= 2


def test_server_messages_that_echo_the_token_are_redacted() -> None:
    secret = token()

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {secret}"
        return httpx.Response(401, json={"message": f"bad token {secret}"})

    with client_with(handler) as client, pytest.raises(errors.AuthenticationError) as info:
        client.query_balance()
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert "***" in str(info.value)
    # Celery pickles exceptions: the pickled form must not carry the secret either.
    assert secret.encode() not in pickle.dumps(info.value)


def test_credentials_never_show_or_pickle_their_secrets() -> None:
    key = nacl.signing.SigningKey(SEED)
    creds = Credentials(token(), key)
    text = repr(creds) + str(creds) + repr(StandXClient(creds))
    assert creds.token not in text
    assert "4wBqpZM9xaSheZzJSMawUKKwhdpChKbZ5eu5ky4Vigw" not in text
    assert "9C6hybhQ6Aycep9jaUnP6uL9ZYvDjUp1aSkFWPUFJtpj" in text  # the public key is fine
    with pytest.raises(TypeError):
        pickle.dumps(creds)


def test_a_read_only_account_cannot_sign() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    http = httpx.MockTransport(handler)
    client = StandXClient(Credentials(token()), transport=http, rate_limiter=NoRateLimit())
    with pytest.raises(errors.ForbiddenError, match="read-only"):
        client.cancel_order(order_id=1)


def test_a_network_failure_is_unavailable_and_names_no_secret() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = client_with(handler, max_retries=1)
    with pytest.raises(errors.UnavailableError) as info:
        client.query_positions()
    assert "exchange.test" in str(info.value)


def test_posts_are_never_retried() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503, json={"message": "busy"})

    with client_with(handler) as client, pytest.raises(errors.ServerError):
        client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
    assert calls == ["/api/new_order"]


def test_a_balance_404_for_an_unfunded_wallet_is_a_zero_balance_but_other_404s_raise() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/query_balance":
            return httpx.Response(404, json={"code": 404, "message": "user balance not found"})
        return httpx.Response(404, json={"message": "order not found"})

    with client_with(handler) as client:
        assert client.query_balance().funded is False
        with pytest.raises(errors.NotFoundError):
            client.query_order(order_id=1)
