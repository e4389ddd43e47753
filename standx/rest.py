"""The StandX REST client: every documented endpoint, typed, signed, rate-limited.

Reference: https://docs.standx.com/standx-api/perps-http (copied in shared/reference).

GETs retry transient failures (429, 5xx, timeouts, malformed bodies) with backoff, jitter and a
cap. POSTs are never retried: the caller re-queries by ``cl_ord_id`` to learn what happened.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import nacl.signing

from exchange_common.errors import redact
from exchange_common.ratelimit import (
    BudgetExhausted,
    LocalRateLimiter,
    RateLimiter,
    acquire,
    backoff_delay,
)
from exchange_common.transport import shared_transport
from standx import errors, keys
from standx.models import (
    ActionResult,
    Balance,
    Candle,
    DepthBook,
    FundingRate,
    Order,
    Page,
    Position,
    PositionConfig,
    PublicTrade,
    SymbolInfo,
    SymbolMarket,
    SymbolPrice,
    Trade,
    parse_klines,
)
from standx.signing import encode_body, signed_headers

T = TypeVar("T")
logger = logging.getLogger(__name__)

DEFAULT_PERPS_URL = "https://perps.standx.com"
DEFAULT_AUTH_URL = "https://api.standx.com"
DEFAULT_WS_URL = "wss://perps.standx.com/ws-stream/v1"
DEFAULT_WS_API_URL = "wss://perps.standx.com/ws-api/v1"
USER_AGENT = "standx-portfolio/0.1"


@dataclass(frozen=True)
class Endpoints:
    """The four separately configurable StandX endpoints."""

    perps_url: str = DEFAULT_PERPS_URL
    auth_url: str = DEFAULT_AUTH_URL
    ws_url: str = DEFAULT_WS_URL
    ws_api_url: str = DEFAULT_WS_API_URL

    @classmethod
    def for_simulator(cls, base_url: str) -> Endpoints:
        """All four on one origin, as ``python -m standx_sim`` serves them."""
        base = base_url.rstrip("/")
        ws = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
        return cls(base, base, f"{ws}/ws-stream/v1", f"{ws}/ws-api/v1")


class Credentials:
    """An access token and (for trading) its ed25519 request-signing key.

    The repr shows only the public key, address and expiry; the secrets stay out of logs.
    """

    __slots__ = ("_key", "_token", "expires_at", "public_key", "user")

    def __init__(self, token: str, signing_key: nacl.signing.SigningKey | None = None) -> None:
        token = token.strip()
        claims = keys.jwt_claims(token)  # also proves it is a JWT
        self._token = token
        self._key = signing_key
        self.expires_at: datetime | None = keys.token_expiry(token)
        self.public_key: str | None = keys.public_key_base58(signing_key) if signing_key else None
        self.user: str | None = next(
            (str(claims[k]) for k in ("address", "sub", "user") if claims.get(k)), None
        )

    @classmethod
    def from_strings(cls, token: str, signing_key: str | None = None) -> Credentials:
        key = keys.parse_signing_key(signing_key) if signing_key and signing_key.strip() else None
        return cls(token, key)

    @property
    def token(self) -> str:
        return self._token

    @property
    def signing_key(self) -> nacl.signing.SigningKey | None:
        return self._key

    @property
    def can_sign(self) -> bool:
        return self._key is not None

    def secrets(self) -> tuple[str, ...]:
        out = [self._token]
        if self._key is not None:
            out += [keys.seed_base58(self._key), bytes(self._key).hex()]
        return tuple(out)

    def __repr__(self) -> str:
        return (
            f"Credentials(user={self.user!r}, public_key={self.public_key!r}, "
            f"expires_at={self.expires_at!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Never let credentials be pickled into a Celery message or a cache.
        raise TypeError("Credentials cannot be pickled; pass an account id instead.")


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:200] if text else response.reason_phrase
    if isinstance(body, dict):
        for key in ("message", "msg", "detail", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    return response.reason_phrase or "error"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def map_error(
    status: int, message: str, *, endpoint: str, retry_after: float | None = None
) -> errors.APIError:
    """The exception for an error status and the server's message."""
    lowered = message.lower()
    if status == 400:
        return errors.BadRequestError(message, endpoint=endpoint)
    if status == 401:
        if "expire" in lowered:
            return errors.TokenExpiredError(message, endpoint=endpoint)
        return errors.AuthenticationError(message, endpoint=endpoint)
    if status == 403:
        if "signature has expired" in lowered:
            return errors.SignatureExpiredError(message, endpoint=endpoint)
        if "signature" in lowered:
            return errors.InvalidSignatureError(message, endpoint=endpoint)
        return errors.ForbiddenError(message, endpoint=endpoint)
    if status == 404:
        return errors.NotFoundError(message, endpoint=endpoint)
    if status == 429:
        return errors.RateLimitedError(message, retry_after=retry_after, endpoint=endpoint)
    if status >= 500:
        return errors.ServerError(message, status=status, endpoint=endpoint)
    return errors.APIError(message, status=status, endpoint=endpoint)


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, Decimal):
            value = format(value, "f")
        elif isinstance(value, datetime):
            value = value.isoformat().replace("+00:00", "Z")
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = value
    return out


def _decimal_str(value: Decimal | str | int) -> str:
    """Decimals go to StandX as JSON strings in plain notation (never ``1E+2``)."""
    if isinstance(value, str):
        return value
    return format(Decimal(value), "f")


class StandXClient:
    """A synchronous client for one StandX account (or none, for public data).

    Requests go straight to an ``httpx`` transport, by default the process-wide keep-alive
    pool of :func:`~exchange_common.transport.shared_transport`; an ``httpx.Client`` would add
    cookie jars, URL merging, redirect and auth machinery this client does not use, at about a
    third of a read's CPU. Thread-safe (the transport is), so one client can serve a pool of
    threads. Inject ``transport`` (e.g. ``httpx.MockTransport``) for error shapes a server
    cannot produce.
    """

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        endpoints: Endpoints | None = None,
        transport: httpx.BaseTransport | None = None,
        rate_limiter: RateLimiter | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        max_backoff: float = 8.0,
        session_id: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        self.endpoints = endpoints or Endpoints()
        self._transport = transport or shared_transport()
        self._timeout = httpx.Timeout(timeout).as_dict()
        self.rate_limiter = rate_limiter or LocalRateLimiter()
        self.max_retries = max_retries
        self.max_backoff = max_backoff
        self.session_id = session_id
        self._sleep = sleep
        # Server clock minus ours, in ms; set by sync_clock() after a "signature has expired".
        self.clock_offset_ms = 0

    # -- plumbing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Nothing to release: the transport is shared (or the caller's) and outlives clients."""

    def __enter__(self) -> StandXClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StandXClient(perps_url={self.endpoints.perps_url!r}, {self.credentials!r})"

    def _secrets(self) -> tuple[str, ...]:
        return self.credentials.secrets() if self.credentials else ()

    def _require_credentials(self) -> Credentials:
        if self.credentials is None:
            raise errors.AuthenticationError("this endpoint needs an access token", status=401)
        return self.credentials

    def _account_key(self) -> str | None:
        if self.credentials is None:
            return None
        return self.credentials.user or self.credentials.public_key or "token"

    def _send_once(
        self,
        method: str,
        url: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None,
        content: bytes | None,
        headers: dict[str, str],
        account: str | None,
    ) -> httpx.Response:
        try:
            acquire(self.rate_limiter, account, sleep=self._sleep)
        except BudgetExhausted as exc:
            raise errors.RateLimitedError(
                "client-side rate budget exhausted", retry_after=exc.retry_after, endpoint="(local)"
            ) from None
        request = httpx.Request(
            method,
            url,
            params=params,
            content=content,
            headers={**_BASE_HEADERS, **headers},
            extensions={"timeout": self._timeout},
        )
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
            if logger.isEnabledFor(logging.DEBUG):  # as httpx.Client logs; headers never
                logger.debug("%s %s %s", method, url, response.status_code)
            return response
        except httpx.TimeoutException:
            raise errors.RequestTimeoutError(f"{endpoint}: no answer in time") from None
        except httpx.HTTPError as exc:
            raise errors.UnavailableError(
                f"{endpoint}: {type(exc).__name__} reaching {urlsplit(url).netloc}"
            ) from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        auth: bool = False,
        signed: bool = False,
        base: str | None = None,
        session: bool = False,
        not_found_ok: bool = False,
        expect_json: bool = True,
    ) -> Any:
        endpoint = path.rsplit("/", 1)[-1] or path
        url = (base or self.endpoints.perps_url) + path
        headers: dict[str, str] = {}
        content: bytes | None = None
        account = None
        signing_key: nacl.signing.SigningKey | None = None
        if auth:
            creds = self._require_credentials()
            headers["authorization"] = f"Bearer {creds.token}"
            account = self._account_key()
        if body is not None:
            content = encode_body(body)
            headers["content-type"] = "application/json"
        if signed:
            signing_key = self._require_credentials().signing_key
            if signing_key is None:
                raise errors.ForbiddenError(
                    "this account is linked read-only (no signing key)", endpoint=endpoint
                )
        if session and self.session_id:
            headers["x-session-id"] = self.session_id
        clean = _clean(params) if params else None

        attempt = 0
        while True:
            attempt += 1
            if signing_key is not None:
                # Signed over the exact bytes sent, with a fresh id and timestamp per attempt.
                headers.update(
                    signed_headers(
                        signing_key,
                        content or b"",
                        timestamp_ms=int(time.time() * 1000) + self.clock_offset_ms,
                    )
                )
            try:
                response = self._send_once(
                    method,
                    url,
                    endpoint,
                    params=clean,
                    content=content,
                    headers=headers,
                    account=account,
                )
                return self._parse(response, endpoint, not_found_ok, expect_json)
            except errors.StandXError as exc:
                # POSTs are never repeated blindly: the first may have reached the matcher.
                if method != "GET" or not exc.transient or attempt > self.max_retries:
                    raise
                delay = backoff_delay(attempt, cap=self.max_backoff)
                if isinstance(exc, errors.RateLimitedError) and exc.retry_after is not None:
                    delay = min(max(delay, exc.retry_after), self.max_backoff * 4)
                self._sleep(delay)

    def _parse(
        self, response: httpx.Response, endpoint: str, not_found_ok: bool, expect_json: bool
    ) -> Any:
        status = response.status_code
        if status >= 400:
            message = redact(_error_message(response), self._secrets())
            if status == 404 and not_found_ok:
                return None
            raise map_error(status, message, endpoint=endpoint, retry_after=_retry_after(response))
        if not expect_json:
            return response.text
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            raise errors.BadResponseError(f"{endpoint}: the body is not JSON") from None
        # Some errors come back as 200 with a non-zero code.
        if (
            isinstance(data, dict)
            and isinstance(data.get("code"), int)
            and data["code"]
            not in (
                0,
                200,
            )
            and "result" not in data
        ):
            message = redact(str(data.get("message") or "error"), self._secrets())
            raise map_error(data["code"], message, endpoint=endpoint)
        return data

    def _parsed(self, parser: Callable[[Any], T], data: Any, endpoint: str) -> T:
        try:
            return parser(data)
        except errors.BadResponseError as exc:
            raise errors.BadResponseError(f"{endpoint}: {exc.message}") from None

    # -- trade endpoints (signed) ---------------------------------------------------------------

    def new_order(
        self,
        *,
        symbol: str,
        side: str,
        order_type: str,
        qty: Decimal | str,
        time_in_force: str = "gtc",
        reduce_only: bool = False,
        price: Decimal | str | None = None,
        cl_ord_id: str | None = None,
        margin_mode: str | None = None,
        leverage: int | None = None,
        tp_price: Decimal | str | None = None,
        sl_price: Decimal | str | None = None,
    ) -> ActionResult:
        """Submit an order. Success means "submitted"; the outcome arrives on the order stream.

        Never retried: on a timeout, look the order up with ``query_order(cl_ord_id=...)``.
        """
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": side,
            "order_type": order_type,
            "qty": _decimal_str(qty),
            "time_in_force": time_in_force,
            "reduce_only": reduce_only,
        }
        optional = {
            "price": price,
            "cl_ord_id": cl_ord_id,
            "margin_mode": margin_mode,
            "leverage": leverage,
            "tp_price": tp_price,
            "sl_price": sl_price,
        }
        for key, value in optional.items():
            if value is not None:
                body[key] = _decimal_str(value) if key.endswith("price") else value
        data = self._request(
            "POST", "/api/new_order", body=body, auth=True, signed=True, session=True
        )
        return self._parsed(ActionResult.parse, data, "new_order")

    def cancel_order(
        self, *, order_id: int | None = None, cl_ord_id: str | None = None
    ) -> ActionResult:
        if order_id is None and not cl_ord_id:
            raise ValueError("cancel_order needs order_id or cl_ord_id")
        body: dict[str, Any] = {}
        if order_id is not None:
            body["order_id"] = order_id
        if cl_ord_id:
            body["cl_ord_id"] = cl_ord_id
        data = self._request(
            "POST", "/api/cancel_order", body=body, auth=True, signed=True, session=True
        )
        return self._parsed(ActionResult.parse, data, "cancel_order")

    def cancel_orders(
        self, *, order_ids: list[int] | None = None, cl_ord_ids: list[str] | None = None
    ) -> ActionResult:
        if not order_ids and not cl_ord_ids:
            raise ValueError("cancel_orders needs order_ids or cl_ord_ids")
        body: dict[str, Any] = {}
        if order_ids:
            body["order_id_list"] = list(order_ids)
        if cl_ord_ids:
            body["cl_ord_id_list"] = list(cl_ord_ids)
        data = self._request("POST", "/api/cancel_orders", body=body, auth=True, signed=True)
        return self._parsed(ActionResult.parse, data, "cancel_orders")

    def change_leverage(self, *, symbol: str, leverage: int) -> ActionResult:
        body = {"symbol": symbol, "leverage": int(leverage)}
        data = self._request("POST", "/api/change_leverage", body=body, auth=True, signed=True)
        return self._parsed(ActionResult.parse, data, "change_leverage")

    def change_margin_mode(self, *, symbol: str, margin_mode: str) -> ActionResult:
        body = {"symbol": symbol, "margin_mode": margin_mode}
        data = self._request("POST", "/api/change_margin_mode", body=body, auth=True, signed=True)
        return self._parsed(ActionResult.parse, data, "change_margin_mode")

    def transfer_margin(self, *, symbol: str, amount_in: Decimal | str) -> ActionResult:
        """Add (positive) or remove (negative) isolated margin of ``symbol``'s position."""
        body = {"symbol": symbol, "amount_in": _decimal_str(amount_in)}
        data = self._request("POST", "/api/transfer_margin", body=body, auth=True, signed=True)
        return self._parsed(ActionResult.parse, data, "transfer_margin")

    # -- user endpoints -------------------------------------------------------------------------

    def query_order(self, *, order_id: int | None = None, cl_ord_id: str | None = None) -> Order:
        if order_id is None and not cl_ord_id:
            raise ValueError("query_order needs order_id or cl_ord_id")
        params = {"order_id": order_id, "cl_ord_id": cl_ord_id}
        data = self._request("GET", "/api/query_order", params=params, auth=True)
        return self._parsed(Order.parse, data, "query_order")

    def query_orders(
        self,
        *,
        symbol: str | None = None,
        status: str | None = None,
        order_type: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        last_id: int | None = None,
        limit: int | None = None,
    ) -> Page[Order]:
        params = {
            "symbol": symbol,
            "status": status,
            "order_type": order_type,
            "start": start,
            "end": end,
            "last_id": last_id,
            "limit": limit,
        }
        data = self._request("GET", "/api/query_orders", params=params, auth=True)
        return self._parsed(lambda d: Page.parse(d, Order.parse), data, "query_orders")

    def query_open_orders(
        self, *, symbol: str | None = None, limit: int | None = None
    ) -> Page[Order]:
        params = {"symbol": symbol, "limit": limit}
        data = self._request("GET", "/api/query_open_orders", params=params, auth=True)
        return self._parsed(lambda d: Page.parse(d, Order.parse), data, "query_open_orders")

    def query_trades(
        self,
        *,
        symbol: str | None = None,
        side: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        last_id: int | None = None,
        limit: int | None = None,
    ) -> Page[Trade]:
        params = {
            "symbol": symbol,
            "side": side,
            "start": start,
            "end": end,
            "last_id": last_id,
            "limit": limit,
        }
        data = self._request("GET", "/api/query_trades", params=params, auth=True)
        return self._parsed(lambda d: Page.parse(d, Trade.parse), data, "query_trades")

    def iter_trades(self, *, page_size: int = 500, **filters: Any) -> Iterator[Trade]:
        """Every matching trade, newest first, page by page with ``last_id``."""
        return _paginate(
            lambda last: self.query_trades(last_id=last, limit=page_size, **filters), page_size
        )

    def iter_orders(self, *, page_size: int = 500, **filters: Any) -> Iterator[Order]:
        """Every matching order, newest first, page by page with ``last_id``."""
        return _paginate(
            lambda last: self.query_orders(last_id=last, limit=page_size, **filters), page_size
        )

    def query_position_config(self, *, symbol: str) -> PositionConfig:
        data = self._request(
            "GET", "/api/query_position_config", params={"symbol": symbol}, auth=True
        )
        return self._parsed(PositionConfig.parse, data, "query_position_config")

    def query_positions(
        self, *, symbol: str | None = None, include_closed: bool = False
    ) -> list[Position]:
        """Open positions. A closed position may still be listed with qty 0; it is dropped
        unless ``include_closed``."""
        data = self._request("GET", "/api/query_positions", params={"symbol": symbol}, auth=True)
        positions = self._parsed(lambda d: _items(d, Position.parse), data, "query_positions")
        return [p for p in positions if include_closed or p.qty != 0]

    def query_balance(self) -> Balance:
        """The unified balance. A wallet that never deposited gets 404; that is a zero balance."""
        try:
            data = self._request("GET", "/api/query_balance", auth=True)
        except errors.NotFoundError as exc:
            if "balance not found" in exc.message.lower():
                return Balance.zero()
            raise
        return self._parsed(Balance.parse, data, "query_balance")

    # -- public endpoints -----------------------------------------------------------------------

    def query_symbol_info(self, *, symbol: str | None = None) -> list[SymbolInfo]:
        """Always a list, even for one symbol (the API answers an array)."""
        data = self._request("GET", "/api/query_symbol_info", params={"symbol": symbol})
        infos = self._parsed(lambda d: _items(d, SymbolInfo.parse), data, "query_symbol_info")
        return [i for i in infos if symbol is None or i.symbol == symbol]

    def query_symbol_market(self, *, symbol: str) -> SymbolMarket:
        data = self._request("GET", "/api/query_symbol_market", params={"symbol": symbol})
        return self._parsed(SymbolMarket.parse, data, "query_symbol_market")

    def query_symbol_price(self, *, symbol: str) -> SymbolPrice:
        data = self._request("GET", "/api/query_symbol_price", params={"symbol": symbol})
        return self._parsed(SymbolPrice.parse, data, "query_symbol_price")

    def query_depth_book(self, *, symbol: str) -> DepthBook:
        data = self._request("GET", "/api/query_depth_book", params={"symbol": symbol})
        return self._parsed(DepthBook.parse, data, "query_depth_book")

    def query_recent_trades(self, *, symbol: str) -> list[PublicTrade]:
        data = self._request("GET", "/api/query_recent_trades", params={"symbol": symbol})
        return self._parsed(lambda d: _items(d, PublicTrade.parse), data, "query_recent_trades")

    def query_funding_rates(
        self, *, symbol: str, start_time: datetime, end_time: datetime
    ) -> list[FundingRate]:
        params = {
            "symbol": symbol,
            "start_time": int(start_time.timestamp() * 1000),
            "end_time": int(end_time.timestamp() * 1000),
        }
        data = self._request("GET", "/api/query_funding_rates", params=params)
        return self._parsed(lambda d: _items(d, FundingRate.parse), data, "query_funding_rates")

    def kline_history(
        self,
        *,
        symbol: str,
        resolution: str,
        start: datetime,
        end: datetime,
        countback: int | None = None,
    ) -> list[Candle]:
        params = {
            "symbol": symbol,
            "resolution": resolution,
            "from": int(start.timestamp()),
            "to": int(end.timestamp()),
            "countback": countback,
        }
        data = self._request("GET", "/api/kline/history", params=params)
        return self._parsed(parse_klines, data, "kline/history")

    def server_time(self) -> int:
        """The server's Unix time in seconds."""
        data = self._request("GET", "/api/kline/time")
        if isinstance(data, dict):
            data = data.get("time", data.get("server_time"))
        if not isinstance(data, int | float) or isinstance(data, bool):
            raise errors.BadResponseError("kline/time: not a number")
        return int(data)

    def health(self) -> bool:
        """True when ``/api/health`` answers ``OK``."""
        text = self._request("GET", "/api/health", expect_json=False)
        return str(text).strip().strip('"').upper() == "OK"

    def sync_clock(self) -> int:
        """Align signing timestamps with the server clock; returns the offset in ms."""
        before = time.time()
        server = self.server_time()
        after = time.time()
        # Seconds resolution: only correct offsets larger than the rounding.
        offset = int((server + 0.5 - (before + after) / 2) * 1000)
        self.clock_offset_ms = offset if abs(offset) > 1500 else 0
        return self.clock_offset_ms


# What an httpx.Client would send on every request besides the caller's own headers.
_BASE_HEADERS = {
    "user-agent": USER_AGENT,
    "accept": "*/*",
    "accept-encoding": "gzip, deflate",
    "connection": "keep-alive",
}


def _items(data: Any, parser: Callable[[Any], T]) -> list[T]:
    if isinstance(data, dict) and isinstance(data.get("result"), list):
        data = data["result"]
    if not isinstance(data, list):
        raise errors.BadResponseError("expected a JSON array")
    return [parser(item) for item in data]


def _paginate(fetch: Callable[[int | None], Page[Any]], limit: int) -> Iterator[Any]:
    """Newest first: ``last_id`` is an exclusive upper bound, so pass the page's smallest id."""
    last_id: int | None = None
    seen: set[int] = set()
    while True:
        page = fetch(last_id)
        fresh = [item for item in page.result if item.id not in seen]
        yield from fresh
        # A short page is the last; a page of only known ids means the server ignored last_id.
        if not fresh or len(page.result) < limit:
            return
        seen.update(item.id for item in fresh)
        last_id = min(item.id for item in page.result)


def new_cl_ord_id() -> str:
    """A client order id: unique, sortable by time, safe in URLs (32 hex characters)."""
    return f"{int(time.time() * 1000):012x}{uuid.uuid4().hex[:20]}"
