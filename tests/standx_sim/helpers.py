"""Test-side StandX helpers, written independently of both `standx` and `standx_sim`."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import base58
import httpx
from nacl.signing import SigningKey

# Field sets of the docs' examples (shared/reference/standx-perps-http.md).
ORDER_KEYS = {
    "avail_locked",
    "cl_ord_id",
    "closed_block",
    "created_at",
    "created_block",
    "fill_avg_price",
    "fill_qty",
    "id",
    "leverage",
    "liq_id",
    "margin",
    "order_type",
    "payload",
    "position_id",
    "price",
    "qty",
    "reduce_only",
    "remark",
    "side",
    "source",
    "status",
    "symbol",
    "time_in_force",
    "updated_at",
    "user",
}
TRADE_KEYS = {
    "created_at",
    "fee_asset",
    "fee_qty",
    "id",
    "order_id",
    "pnl",
    "price",
    "qty",
    "side",
    "symbol",
    "updated_at",
    "user",
    "value",
}
POSITION_KEYS = {
    "bankruptcy_price",
    "created_at",
    "entry_price",
    "entry_value",
    "holding_margin",
    "id",
    "initial_margin",
    "leverage",
    "liq_price",
    "maint_margin",
    "margin_asset",
    "margin_mode",
    "mark_price",
    "mmr",
    "position_value",
    "qty",
    "realized_pnl",
    "status",
    "symbol",
    "time",
    "updated_at",
    "upnl",
    "user",
}
POSITION_STREAM_KEYS = {
    "created_at",
    "entry_price",
    "entry_value",
    "id",
    "initial_margin",
    "leverage",
    "margin_asset",
    "margin_mode",
    "qty",
    "realized_pnl",
    "status",
    "symbol",
    "updated_at",
    "user",
}
BALANCE_KEYS = {
    "isolated_balance",
    "isolated_upnl",
    "cross_balance",
    "cross_margin",
    "cross_upnl",
    "locked",
    "cross_available",
    "balance",
    "upnl",
    "equity",
    "pnl_freeze",
}
WALLET_KEYS = {
    "account_type",
    "created_at",
    "free",
    "id",
    "inbound",
    "is_enabled",
    "kind",
    "last_tx",
    "last_tx_updated_at",
    "locked",
    "occupied",
    "outbound",
    "ref_id",
    "token",
    "total",
    "updated_at",
    "version",
    "wallet_id",
}
SYMBOL_INFO_KEYS = {
    "base_asset",
    "base_decimals",
    "created_at",
    "def_leverage",
    "depth_ticks",
    "enabled",
    "maker_fee",
    "max_leverage",
    "max_open_orders",
    "max_order_qty",
    "max_position_size",
    "min_order_qty",
    "price_cap_ratio",
    "price_floor_ratio",
    "price_tick_decimals",
    "qty_tick_decimals",
    "quote_asset",
    "quote_decimals",
    "status",
    "symbol",
    "taker_fee",
    "updated_at",
}
MARKET_KEYS = {
    "base",
    "funding_rate",
    "high_price_24h",
    "index_price",
    "last_price",
    "low_price_24h",
    "mark_price",
    "mid_price",
    "next_funding_time",
    "open_interest",
    "quote",
    "spread",
    "symbol",
    "time",
    "volume_24h",
}
PRICE_KEYS = {
    "base",
    "index_price",
    "last_price",
    "mark_price",
    "mid_price",
    "quote",
    "spread_ask",
    "spread_bid",
    "symbol",
    "time",
}
STREAM_PRICE_KEYS = {
    "base",
    "index_price",
    "last_price",
    "mark_price",
    "mid_price",
    "quote",
    "spread",
    "symbol",
    "time",
}
RECENT_TRADE_KEYS = {"is_buyer_taker", "price", "qty", "quote_qty", "symbol", "time"}
FUNDING_RATE_KEYS = {
    "id",
    "symbol",
    "funding_rate",
    "index_price",
    "mark_price",
    "premium",
    "time",
    "created_at",
    "updated_at",
}
FUNDING_PAYMENT_KEYS = {
    "id",
    "user",
    "asset",
    "symbol",
    "qty",
    "txn_type",
    "transact_time",
    "created_at",
    "updated_at",
}


def sign(seed_b58: str, request_id: str, timestamp: str, payload: bytes) -> str:
    key = SigningKey(base58.b58decode(seed_b58))
    message = f"v1,{request_id},{timestamp},".encode() + payload
    return base64.b64encode(key.sign(message).signature).decode()


def now_ms() -> str:
    return str(int(time.time() * 1000))


class Api:
    """A raw HTTP client for one simulated account."""

    def __init__(self, base_url: str, creds: dict[str, Any] | None = None) -> None:
        self.base_url = base_url
        self.creds = creds or {}
        self.http = httpx.Client(base_url=base_url, timeout=10)

    @property
    def token(self) -> str:
        return str(self.creds["token"])

    @property
    def address(self) -> str:
        return str(self.creds["address"])

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, auth: bool = True, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if auth and self.creds else {}
        return self.http.get(path, params=params, headers=headers)

    def get_json(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def signed_headers(
        self, payload: bytes, *, timestamp: str | None = None, request_id: str | None = None
    ) -> dict[str, str]:
        request_id = request_id or str(uuid.uuid4())
        timestamp = timestamp or now_ms()
        return {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            "x-request-sign-version": "v1",
            "x-request-id": request_id,
            "x-request-timestamp": timestamp,
            "x-request-signature": sign(self.creds["signing_key"], request_id, timestamp, payload),
        }

    def post(
        self,
        path: str,
        body: Any,
        *,
        spaced: bool = False,
        headers: dict[str, str] | None = None,
        timestamp: str | None = None,
    ) -> httpx.Response:
        if isinstance(body, bytes):
            payload = body
        else:
            separators = (", ", ": ") if spaced else (",", ":")
            payload = json.dumps(body, separators=separators).encode()
        all_headers = self.signed_headers(payload, timestamp=timestamp)
        all_headers.update(headers or {})
        return self.http.post(path, content=payload, headers=all_headers)

    def order(self, **fields: Any) -> httpx.Response:
        body = {"time_in_force": "gtc", "reduce_only": False, **fields}
        if body.get("order_type") == "market":
            body["time_in_force"] = fields.get("time_in_force", "ioc")
        return self.post("/api/new_order", body)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        assert response.status_code == 200, response.text
        return response.json()
