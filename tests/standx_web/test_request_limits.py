"""Requests no page can take (a NUL character, an overlong address) get a sentence, from Django
and from daphne itself, never a server error or a dropped connection."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from portfolio.models import PushSubscription
from standx_web.request_limits import MAX_URL_CHARS

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/symbols/standx/%00/",
        "/symbols/standx/BTC-USD%00/candles.json",
        "/settings/email/verify/%00/",
        "/orders/?symbol=%00",
        "/trades/?start=2026-01-01%00",
        "/positions/stress/?pct=1&symbol=%00",
        "/trade/?symbol=BTC%00USD",
        "/orders/?%00=1",
    ],
)
def test_a_nul_character_in_the_path_or_the_query_gets_a_sentence(
    alice_client: Client, url: str
) -> None:
    response = alice_client.get(url)
    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()


def test_a_nul_character_in_a_form_field_gets_a_sentence(alice_client: Client) -> None:
    response = alice_client.post(reverse("portfolio:alert_snooze"), {"minutes": "1\x00"})
    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()


def test_a_nul_character_in_a_json_string_gets_a_sentence_and_changes_nothing(
    alice: User, alice_client: Client
) -> None:
    response = alice_client.post(
        reverse("portfolio:push_unsubscribe"),
        json.dumps({"endpoint": "https://push.example/\x00"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()
    assert not PushSubscription.objects.exists()


def test_an_address_over_the_limit_gets_414_and_a_sentence(alice_client: Client) -> None:
    fits = alice_client.get(reverse("portfolio:positions_stress"), {"pct": "1", "symbol": "A"})
    assert fits.status_code == 400  # the stress form's own answer: no position in "A"
    symbol = "A" * MAX_URL_CHARS
    response = alice_client.get(
        reverse("portfolio:positions_stress"), {"pct": "1", "symbol": symbol}
    )
    assert response.status_code == 414
    assert "This address is too long" in response.content.decode()


def raw_request(base_url: str, request_line_target: str, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 request over a plain socket (no client library shortens or refuses it)."""
    parts = urlsplit(base_url)
    lines = [f"GET {request_line_target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("length", [6000, 20_000, 100_000])
def test_daphne_answers_an_overlong_address_instead_of_hanging_up(
    daphne_url: str, length: int
) -> None:
    answer = raw_request(daphne_url, "/positions/stress/?pct=1&symbol=" + "A" * length, {})
    assert answer.startswith(b"HTTP/1.1 414")
    assert b"This address is too long" in answer


def test_daphne_answers_an_overlong_header_instead_of_hanging_up(daphne_url: str) -> None:
    answer = raw_request(daphne_url, "/", {"Cookie": "x=" + "y" * 20_000})
    assert answer.startswith(b"HTTP/1.1 431")
    assert b"clear this site's cookies" in answer


def test_daphne_still_serves_ordinary_requests(daphne_url: str) -> None:
    assert httpx.get(f"{daphne_url}/accounts/login/", timeout=10).status_code == 200


def test_a_view_that_reads_the_raw_body_still_can_after_the_check(alice_client: Client) -> None:
    # The test client posts multipart forms: the check reads the fields, the view its raw body.
    response = alice_client.post(reverse("portfolio:push_unsubscribe"), {"endpoint": "x"})
    assert response.status_code == 200
    assert response.json() == {"removed": False}


def test_json_nested_deeper_than_any_page_takes_gets_a_sentence(alice_client: Client) -> None:
    response = alice_client.post(
        reverse("portfolio:push_unsubscribe"), "[" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400
    assert "more than 256 lists and objects" in response.content.decode()


def test_a_nul_character_deep_in_json_is_found(alice_client: Client) -> None:
    body = "[" * 200 + '"\\u0000"' + "]" * 200
    response = alice_client.post(
        reverse("portfolio:push_unsubscribe"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()
