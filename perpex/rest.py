"""The PerpEx REST client: the six documented routes, the batch route, typed and rate-limited.

GETs retry transient failures (429 after its ``Retry-After``, 5xx, timeouts, unreadable bodies)
with exponential backoff and a cap. POSTs and DELETEs are never repeated: an order may have
reached the matcher; the caller looks for it (``clientOrderId`` on the fills) instead.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from exchange_common.errors import redact
from exchange_common.transport import shared_transport
from perpex import errors
from perpex.keys import ApiKey
from perpex.models import (
    Account,
    BatchResult,
    Fill,
    Market,
    Order,
    OrderBook,
    TradesPage,
    error_fields,
    parse_batch,
    parse_list,
)
from perpex.ratelimit import RateLimiter, acquire, local_limiter

T = TypeVar("T")
logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.perpex.io"
DEFAULT_WS_URL = "wss://ws.perpex.io"
BATCH_MAX = 10
USER_AGENT = "standx-portfolio/0.1 (perpex)"
SIDES = ("buy", "sell")
ORDER_TYPES = ("limit", "market", "stop")
TIME_IN_FORCE = ("gtc", "ioc")
MARGIN_MODES = ("cross", "isolated")


def _plain(value: Decimal | str | int) -> str:
    """Decimals go out as JSON strings in plain notation (never ``1E+2``)."""
    return value if isinstance(value, str) else format(Decimal(value), "f")


@dataclass(frozen=True)
class OrderRequest:
    """One order as PerpEx is assumed to take it (see the package's notes)."""

    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str | None = None
    reduce_only: bool = False
    client_order_id: str | None = None
    leverage: int | None = None
    margin_mode: str | None = None

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError("side must be buy or sell")
        if self.type not in ORDER_TYPES:
            raise ValueError("type must be limit, market or stop")
        if self.quantity <= 0:
            raise ValueError("quantity must be positive")
        if self.type == "limit" and self.price is None:
            raise ValueError("a limit order needs a price")
        if self.type == "stop" and self.stop_price is None:
            raise ValueError("a stop order needs a stop price")
        if self.type == "market" and self.price is not None:
            raise ValueError("a market order takes no price")
        if self.time_in_force is not None and self.time_in_force not in TIME_IN_FORCE:
            raise ValueError("time in force must be gtc or ioc")
        if self.margin_mode is not None and self.margin_mode not in MARGIN_MODES:
            raise ValueError("margin mode must be cross or isolated")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "quantity": _plain(self.quantity),
        }
        optional = {
            "price": None if self.price is None else _plain(self.price),
            "stopPrice": None if self.stop_price is None else _plain(self.stop_price),
            "timeInForce": self.time_in_force,
            "reduceOnly": self.reduce_only or None,
            "clientOrderId": self.client_order_id,
            "leverage": self.leverage,
            "marginMode": self.margin_mode,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


def new_client_order_id() -> str:
    """Unique, sortable by time, URL-safe (32 hex characters)."""
    return f"{int(time.time() * 1000):012x}{uuid.uuid4().hex[:20]}"


def backoff(attempt: int, *, cap: float) -> float:
    """0.25 s, 0.5 s, 1 s ... up to ``cap``, with equal jitter."""
    ceiling = min(cap, 0.25 * 2 ** (attempt - 1))
    return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not cryptography


class PerpExClient:
    """A synchronous client for one PerpEx API key (or none, for public data). Thread-safe.

    ``api_url`` is the origin (``https://api.perpex.io``); paths are ``/api/v1/...``. Requests go
    through the process's keep-alive pool shared with the StandX client unless ``transport``
    is given (e.g. ``httpx.MockTransport`` for shapes the simulator never sends).
    """

    def __init__(
        self,
        api_key: ApiKey | None = None,
        *,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.BaseTransport | None = None,
        rate_limiter: RateLimiter | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        max_backoff: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_key = api_key
        self.api_url = api_url.rstrip("/")
        self._transport = transport or shared_transport()
        self._timeout = httpx.Timeout(timeout).as_dict()
        self.rate_limiter = rate_limiter or local_limiter()
        self.max_retries = max_retries
        self.max_backoff = max_backoff
        self._sleep = sleep

    def close(self) -> None:
        """Nothing to release: the transport is shared (or the caller's)."""

    def __enter__(self) -> PerpExClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PerpExClient(api_url={self.api_url!r}, {self.api_key!r})"

    # -- plumbing -------------------------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        return (self.api_key.token,) if self.api_key else ()

    def _send(
        self,
        method: str,
        url: str,
        endpoint: str,
        params: dict[str, Any] | None,
        content: bytes | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        key = self.api_key.fingerprint if self.api_key else None
        acquire(self.rate_limiter, key, sleep=self._sleep)
        request = httpx.Request(
            method,
            url,
            params=params,
            content=content,
            headers=headers,
            extensions={"timeout": self._timeout},
        )
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException:
            raise errors.RequestTimeoutError(f"{endpoint}: no answer in time") from None
        except httpx.HTTPError as exc:
            where = urlsplit(url).netloc
            raise errors.UnavailableError(
                f"{endpoint}: {type(exc).__name__} reaching {where}"
            ) from None
        logger.debug("%s %s %s", method, endpoint, response.status_code)
        return response

    def _request(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        auth: bool = True,
    ) -> Any:
        headers = {"user-agent": USER_AGENT, "accept": "application/json"}
        if auth:
            if self.api_key is None:
                raise errors.AuthenticationError("this call needs an API key", endpoint=endpoint)
            headers["authorization"] = f"Bearer {self.api_key.token}"
        content = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers["content-type"] = "application/json"
        clean = {k: v for k, v in (params or {}).items() if v is not None} or None
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(
                    method, self.api_url + path, endpoint, clean, content, headers
                )
                return self._parse(response, endpoint)
            except errors.PerpExError as exc:
                if method != "GET" or not exc.transient or attempt > self.max_retries:
                    raise
                delay = backoff(attempt, cap=self.max_backoff)
                if isinstance(exc, errors.RateLimitedError) and exc.retry_after is not None:
                    delay = min(max(delay, exc.retry_after), 60.0)
                self._sleep(delay)

    def _parse(self, response: httpx.Response, endpoint: str) -> Any:
        status = response.status_code
        try:
            data = response.json() if response.content else None
        except (ValueError, UnicodeDecodeError):
            data = ...
        if status >= 400:
            code, message = error_fields(data)
            if not message:
                message = response.text.strip()[:200] if data is ... else response.reason_phrase
            raise errors.map_error(
                status,
                code,
                redact(message or "error", self._secrets()),
                endpoint=endpoint,
                retry_after=_retry_after(response),
            )
        if data is ...:
            raise errors.BadResponseError(f"{endpoint}: the body is not JSON")
        if isinstance(data, dict) and _is_error(data):
            code, message = error_fields(data)
            status = {"ORDER_NOT_FOUND": 404, "UNAUTHORIZED": 401, "FORBIDDEN": 403}.get(code, 400)
            raise errors.map_error(
                status, code, redact(message or code, self._secrets()), endpoint=endpoint
            )
        return data

    def _parsed(self, parser: Callable[[Any], T], data: Any, endpoint: str) -> T:
        try:
            return parser(data)
        except errors.BadResponseError as exc:
            raise errors.BadResponseError(f"{endpoint}: {exc.message}") from None

    # -- public ---------------------------------------------------------------------------------

    def markets(self) -> list[Market]:
        data = self._request("GET", "/api/v1/markets", "markets", auth=False)
        return self._parsed(
            lambda d: parse_list(d, Market.parse, "markets", "markets"), data, "markets"
        )

    def orderbook(self, symbol: str, *, depth: int | None = None) -> OrderBook:
        path = f"/api/v1/orderbook/{quote(symbol, safe='')}"
        data = self._request("GET", path, "orderbook", params={"depth": depth}, auth=False)
        return self._parsed(lambda d: OrderBook.parse(d, symbol), data, "orderbook")

    # -- account --------------------------------------------------------------------------------

    def account(self) -> Account:
        data = self._request("GET", "/api/v1/account", "account")
        return self._parsed(Account.parse, data, "account")

    def open_orders(self) -> list[Order] | None:
        """Open orders through ``GET /api/v1/orders?status=open`` (assumed; not in the reference).

        None when the venue has no such route (404 without a code of its own).
        """
        try:
            data = self._request("GET", "/api/v1/orders", "orders", params={"status": "open"})
        except errors.NotFoundError as exc:
            if exc.code in ("", "NOT_FOUND"):
                return None
            raise
        return self._parsed(
            lambda d: parse_list(d, Order.parse, "orders", "orders"), data, "orders"
        )

    def trades(
        self,
        *,
        symbol: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        page: int | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> TradesPage:
        params = {
            "symbol": symbol,
            "limit": limit,
            "cursor": cursor,
            "page": page,
            "startTime": None if start_time is None else int(start_time.timestamp() * 1000),
            "endTime": None if end_time is None else int(end_time.timestamp() * 1000),
        }
        data = self._request("GET", "/api/v1/trades", "trades", params=params)
        return self._parsed(TradesPage.parse, data, "trades")

    def iter_trades(self, *, page_size: int = 100, **filters: Any) -> Iterator[Fill]:
        """Every matching fill, page after page: by ``nextCursor``, else by page number.

        Stops on the last page, on a cursor seen before, or on a page of only known fills (a
        venue that ignored the cursor); yields each fill id once.
        """
        seen: set[str] = set()
        cursors: set[str] = set()
        cursor: str | None = None
        page: int | None = None
        while True:
            result = self.trades(limit=page_size, cursor=cursor, page=page, **filters)
            fresh = [f for f in result.fills if f.id not in seen]
            yield from fresh
            seen.update(f.id for f in fresh)
            if not fresh:
                return
            if result.next_cursor is not None and result.next_cursor not in cursors:
                cursors.add(result.next_cursor)
                cursor, page = result.next_cursor, None
            elif result.next_cursor is None and result.next_page is not None:
                page = result.next_page
            else:
                return

    # -- trading --------------------------------------------------------------------------------

    def place_order(self, order: OrderRequest) -> Order:
        """Place one order. Never retried: on a timeout, look for its ``client_order_id``."""
        data = self._request("POST", "/api/v1/orders", "orders", body=order.body())
        return self._parsed(Order.parse, data, "orders")

    def place_batch(self, orders: list[OrderRequest]) -> list[BatchResult]:
        """Up to 10 orders in one request; each succeeds or fails on its own (per-order results)."""
        if not 1 <= len(orders) <= BATCH_MAX:
            raise ValueError(f"a batch holds 1 to {BATCH_MAX} orders, not {len(orders)}")
        data = self._request(
            "POST",
            "/api/v1/orders/batch",
            "orders/batch",
            body={"orders": [o.body() for o in orders]},
        )
        results = self._parsed(parse_batch, data, "orders/batch")
        if len(results) != len(orders):
            raise errors.BadResponseError(
                f"orders/batch: {len(results)} results for {len(orders)} orders"
            )
        return sorted(results, key=lambda r: r.index)

    def cancel_order(self, order_id: str) -> Order | None:
        """Cancel one open order. Raises :class:`OrderNotFoundError` for an unknown (or no
        longer open) id. Returns the order when the venue echoes it."""
        if not order_id or not order_id.strip():
            raise ValueError("an order id is needed")
        path = f"/api/v1/orders/{quote(order_id.strip(), safe='')}"
        data = self._request("DELETE", path, "cancel")
        if not data or (
            isinstance(data, dict) and not ({"id", "orderId", "oid", "data"} & set(data))
        ):
            return None
        return self._parsed(Order.parse, data, "cancel")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if seconds == seconds else None


def _is_error(data: dict[str, Any]) -> bool:
    """A 200 whose body is an error: ``{error: ...}``, or ``{code, message}`` failing."""
    if isinstance(data.get("error"), dict | str) and data.get("error"):
        return "data" not in data
    code = data.get("code")
    if code is None or "message" not in data or "data" in data:
        return False
    return str(code).upper() not in ("0", "200", "OK", "SUCCESS")
