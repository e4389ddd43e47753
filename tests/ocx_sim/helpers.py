"""Test-side OCX helpers, written independently of both ``ocx`` and ``ocx_sim``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{url}{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def new_account(url: str, deposit: str = "10000", perps: str | None = "5000") -> dict[str, Any]:
    body = {"deposit": deposit}
    if perps is not None:
        body["perps"] = perps
    return control(url, "POST", "/sim/accounts", body)


def siwe_text(
    url: str,
    address: str,
    nonce: str,
    *,
    domain: str | None = None,
    expires_in: timedelta = timedelta(minutes=5),
) -> str:
    host = domain or urlsplit(url).netloc
    now = datetime.now(UTC)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return (
        f"{host} wants you to sign in with your Ethereum account:\n{address}\n\n"
        f"Sign in to OCX to continue.\n\nURI: http://{host}\nVersion: 1\nChain ID: 84532\n"
        f"Nonce: {nonce}\nIssued At: {now.strftime(stamp)}\n"
        f"Expiration Time: {(now + expires_in).strftime(stamp)}"
    )


def personal_sign(private_key: str, text: str) -> str:
    signed = Account.sign_message(encode_defunct(text=text), private_key=private_key)
    return "0x" + bytes(signed.signature).hex().removeprefix("0x")


class Api:
    """Raw HTTP to the simulator as one user (a bearer session, or a key)."""

    def __init__(self, url: str, creds: dict[str, Any]) -> None:
        self.url = url
        self.creds = creds
        self.http = httpx.Client(base_url=url, timeout=10)

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers = (
            {"x-api-key": self.creds[key]}
            if key
            else {"authorization": f"Bearer {self.creds['session']}"}
        )
        return self.http.request(method, path, json=body, headers=headers, params=params)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        response = self.call(method, path, body, **kw)
        assert response.status_code in (200, 201), response.text
        return response.json()
