"""The OCX REST client: every perps/futures, account, wallet and key endpoint of the
reference, typed; SIWE sign-in; the order-path budget; the error map.

Reference: ``shared/reference/venue-ocx-api.txt`` (docs.ocx.global ``api-reference``).

Which credential each call sends (see ``ocx/__init__``): a call's tier is ``public``,
``session`` (single orders, cancel one, close, transfers, key management), ``trade`` (preview,
cancel-all, bulk quotes: the trade key when there is one, so the kill switch outlives the
session, else the session) or ``read`` (account and wallet reads: the key first, then the
session if OCX refuses the key with 401/403). A session known to be expired is not sent: the
call raises :class:`~ocx.errors.AuthExpiredError` at once.

GETs retry transient failures (429, 5xx, timeouts, malformed bodies) with capped, jittered
backoff; POSTs and DELETEs are never repeated (a 409 on a ``clientOrderId`` means the first
try was applied). The client never calls ``/wallet/withdraw``: :meth:`OCXClient._request`
refuses that path outright.
"""

from __future__ import annotations

import http.cookies
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from exchange_common.errors import redact
from exchange_common.ratelimit import BudgetExhausted
from exchange_common.transport import shared_transport
from ocx import errors, models
from ocx.auth import ApiKey, PendingSignIn, Session, SiweParams, checksum_address, siwe_message
from ocx.ratelimit import RateLimiter, acquire, backoff_delay, order_path_limiter

T = TypeVar("T")
logger = logging.getLogger(__name__)
USER_AGENT = "standx-portfolio/0.1 (ocx)"
FORBIDDEN_PATHS = ("/wallet/withdraw",)  # money leaving OCX: never called from this code
TIERS = ("public", "session", "trade", "read")


def _plain(value: Decimal | str | int) -> str:
    """Decimals go to OCX as JSON strings in plain notation (never ``1E+2``)."""
    return value if isinstance(value, str) else format(Decimal(value), "f")


def _error_fields(response: httpx.Response) -> tuple[str, str, float | None]:
    """(code, message, retry-after seconds) from either documented error shape:
    ``{error: CODE, message}`` (docs.ocx.global) or ``{error: family, code, message}``."""
    retry: float | None = None
    header = response.headers.get("retry-after")
    if header:
        try:
            retry = max(0.0, float(header))
        except ValueError:
            retry = None
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:200]
        return "", text or response.reason_phrase, retry
    if not isinstance(body, dict):
        return "", response.reason_phrase, retry
    code = body.get("code") if isinstance(body.get("code"), str) else body.get("error")
    message = body.get("message") if isinstance(body.get("message"), str) else ""
    ms = body.get("retryAfterMs")
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        retry = max(0.0, ms / 1000)
    return (code if isinstance(code, str) else ""), message or str(code or "error"), retry


class OCXClient:
    """A synchronous client for one OCX user (or none, for public data).

    Give it a :class:`~ocx.auth.Session`, an :class:`~ocx.auth.ApiKey`, both, or neither.
    Thread-safe. Inject ``transport`` (``httpx.MockTransport``) for shapes a server cannot make.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: Session | None = None,
        api_key: ApiKey | None = None,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
        read_limiter: RateLimiter | None = None,
        budget_key: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        max_backoff: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the OCX API URL must be http(s)://host[:port]")
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.api_key = api_key
        self._transport = transport or shared_transport()
        self._timeout = httpx.Timeout(timeout).as_dict()
        self.limiter = limiter or order_path_limiter()
        # Account reads are not limited by OCX; a caller that plans its own budget (the sync)
        # passes a limiter that every ``read``-tier request then pays.
        self.read_limiter = read_limiter
        self.budget_key = budget_key
        self.max_retries = max_retries
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._clock = clock

    def __enter__(self) -> OCXClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release: the transport is shared (or the caller's)."""

    def __repr__(self) -> str:
        return f"OCXClient({self.base_url!r}, session={self.session!r}, api_key={self.api_key!r})"

    def __reduce__(self) -> Any:
        raise TypeError("an OCX client cannot be pickled; pass an account id instead")

    # -- plumbing -------------------------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        found = (
            self.session.token if self.session else "",
            self.api_key.secret if self.api_key else "",
        )
        return tuple(s for s in found if s)

    @property
    def user_id(self) -> str | None:
        """OCX's user id: what the order-path budget is counted per."""
        if self.session is not None and self.session.user_id:
            return self.session.user_id
        return self.api_key.user_id if self.api_key is not None else None

    def _budget_account(self) -> str:
        """Whose budget a request pays from: the user id, else the caller's stable key."""
        return self.user_id or self.budget_key or "anonymous"

    def _usable_session(self, endpoint: str) -> Session:
        if self.session is None:
            raise errors.AuthExpiredError(
                "this needs a signed-in OCX session", code="SESSION_REQUIRED", endpoint=endpoint
            )
        if self.session.expired(self._clock()):
            raise errors.AuthExpiredError(
                "the OCX session has expired: sign in with the wallet again",
                code="SESSION_EXPIRED",
                endpoint=endpoint,
            )
        return self.session

    def _credential_headers(self, tier: str, endpoint: str, use_key: bool) -> dict[str, str]:
        if tier == "public":
            return {}
        if tier in ("trade", "read") and use_key and self.api_key is not None:
            return {"x-api-key": self.api_key.secret}
        return {"authorization": f"Bearer {self._usable_session(endpoint).token}"}

    def _send(
        self,
        method: str,
        url: str,
        endpoint: str,
        params: dict[str, Any] | None,
        content: bytes | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        request = httpx.Request(
            method,
            url,
            params=params,
            content=content,
            headers={"user-agent": USER_AGENT, "accept": "application/json", **headers},
            extensions={"timeout": self._timeout},
        )
        try:
            response = self._transport.handle_request(request)
            try:
                response.read()
            finally:
                response.close()
        except httpx.TimeoutException:
            raise errors.UnavailableError(f"{endpoint}: no answer in time") from None
        except httpx.HTTPError as exc:
            raise errors.UnavailableError(
                f"{endpoint}: {type(exc).__name__} reaching {urlsplit(url).netloc}"
            ) from None
        if logger.isEnabledFor(logging.DEBUG):  # never the headers
            logger.debug("%s %s %s", method, endpoint, response.status_code)
        return response

    def _raise_for(self, response: httpx.Response, endpoint: str) -> None:
        if response.status_code < 400:
            return
        code, message, retry = _error_fields(response)
        message = redact(message, self._secrets())
        raise errors.map_error(
            response.status_code, message, code=code, endpoint=endpoint, retry_after=retry
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        tier: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        order_path: bool = False,
        raw: bool = False,
    ) -> Any:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}")
        if any(path.startswith(p) for p in FORBIDDEN_PATHS):
            # A session could move funds out; this code never does, whoever asks.
            raise errors.ForbiddenError(
                "this client never moves funds out of OCX",
                code="WITHDRAW_REFUSED",
                endpoint=path,
            )
        endpoint = path
        url = self.base_url + path
        clean = {k: _query_value(v) for k, v in (params or {}).items() if v is not None} or None
        content = None
        headers: dict[str, str] = {}
        if body is not None:
            content = _dumps(body)
            headers["content-type"] = "application/json"
        use_key = True
        attempt = 0
        while True:
            attempt += 1
            budget = self.limiter if order_path else None
            if tier == "read" and not order_path and self.read_limiter is not None:
                budget = self.read_limiter
            if budget is not None:
                try:
                    acquire(budget, self._budget_account(), sleep=self._sleep)
                except BudgetExhausted as exc:
                    raise errors.RateLimitedError(
                        "client-side request budget exhausted",
                        retry_after=exc.retry_after,
                        endpoint=endpoint,
                    ) from None
            sent = {**headers, **self._credential_headers(tier, endpoint, use_key)}
            try:
                response = self._send(method, url, endpoint, clean, content, sent)
                if (
                    tier == "read"
                    and use_key
                    and "x-api-key" in sent
                    and response.status_code in (401, 403)
                    and self.session is not None
                ):
                    use_key = False  # the key was refused for a read: the session may do
                    continue
                self._raise_for(response, endpoint)
                if raw:
                    return response
                try:
                    return response.json()
                except ValueError:
                    raise errors.BadResponseError(f"{endpoint}: the body is not JSON") from None
            except errors.OCXError as exc:
                if method != "GET" or not exc.transient or attempt > self.max_retries:
                    raise
                delay = backoff_delay(attempt, cap=self.max_backoff)
                if isinstance(exc, errors.RateLimitedError) and exc.retry_after is not None:
                    delay = min(max(delay, exc.retry_after), self.max_backoff * 4)
                self._sleep(delay)

    def _parsed(self, parser: Callable[[Any], T], data: Any, endpoint: str) -> T:
        try:
            return parser(data)
        except errors.BadResponseError as exc:
            raise errors.BadResponseError(f"{endpoint}: {exc.message}") from None

    def _get(
        self,
        path: str,
        parser: Callable[[Any], T],
        *,
        tier: str = "public",
        params: dict[str, Any] | None = None,
    ) -> T:
        return self._parsed(parser, self._request("GET", path, tier=tier, params=params), path)

    def _post(
        self,
        path: str,
        parser: Callable[[Any], T],
        body: Any,
        *,
        tier: str,
        order_path: bool = False,
    ) -> T:
        data = self._request("POST", path, tier=tier, body=body, order_path=order_path)
        return self._parsed(parser, data, path)

    # -- sign-in --------------------------------------------------------------------------------

    def request_nonce(self, address: str) -> str:
        data = self._request(
            "POST", "/auth/nonce", tier="public", body={"walletAddress": checksum_address(address)}
        )
        nonce = data.get("nonce") if isinstance(data, dict) else None
        if not isinstance(nonce, str) or not nonce:
            raise errors.BadResponseError("/auth/nonce: no nonce")
        return nonce

    def begin_sign_in(self, address: str, params: SiweParams | None = None) -> PendingSignIn:
        """A nonce from OCX and the EIP-4361 message for the wallet to sign."""
        address = checksum_address(address)
        nonce = self.request_nonce(address)
        message = siwe_message(params or SiweParams.for_api(self.base_url), address, nonce)
        return PendingSignIn(address, nonce, message)

    def complete_sign_in(self, pending: PendingSignIn, signature: str) -> Session:
        """Exchange the signed message for a session (also kept on this client)."""
        from ocx.auth import verify_signature

        verify_signature(pending.message, signature, pending.address)
        try:
            response = self._request(
                "POST",
                "/auth/siwe",
                tier="public",
                raw=True,
                body={"message": pending.message, "signature": signature},
            )
        except errors.APIError as exc:
            if exc.status in (400, 401):
                refused = errors.LoginError(f"OCX refused the sign-in: {exc.message}")
                refused.code = exc.code
                raise refused from None
            raise
        identity = self._parsed(models.Identity.parse, response.json(), "/auth/siwe")
        token = _session_cookie(response)
        if token is None:
            raise errors.BadResponseError("/auth/siwe: no session cookie in the answer")
        self.session = Session(
            token, user_id=identity.user_id, wallet_address=identity.wallet_address
        )
        return self.session

    def sign_in_with_wallet_key(
        self, private_key: str, params: SiweParams | None = None
    ) -> Session:
        """The whole SIWE flow with a local key (CLI and tests; browsers sign themselves)."""
        from ocx.auth import sign, wallet_address

        pending = self.begin_sign_in(wallet_address(private_key), params)
        return self.complete_sign_in(pending, sign(private_key, pending.message))

    def me(self) -> models.Identity | None:
        data = self._request("GET", "/auth/me", tier="session")
        return None if data is None else self._parsed(models.Identity.parse, data, "/auth/me")

    def logout(self) -> None:
        self._request("POST", "/auth/logout", tier="session", body={})

    # -- API keys (session only) ----------------------------------------------------------------

    def list_api_keys(self) -> list[models.ApiKey]:
        return self._get(
            "/perps/me/api-keys",
            lambda d: models.items(d, models.ApiKey.parse, "api keys"),
            tier="session",
        )

    def create_api_key(
        self,
        name: str,
        scope: str,
        *,
        allowed_ips: list[str] | None = None,
        expires_in_days: int | None = None,
    ) -> models.CreatedApiKey:
        if scope not in ("read", "trade"):
            raise ValueError("scope must be read or trade")
        body: dict[str, Any] = {"name": name, "scope": scope}
        if allowed_ips:
            body["allowedIps"] = list(allowed_ips)
        if expires_in_days is not None:
            body["expiresInDays"] = int(expires_in_days)
        return self._post("/perps/me/api-keys", models.CreatedApiKey.parse, body, tier="session")

    def revoke_api_key(self, key_id: str) -> None:
        self._request("DELETE", f"/perps/me/api-keys/{_segment(key_id)}", tier="session")

    # -- public market data ---------------------------------------------------------------------

    def markets(self) -> list[models.Market]:
        """Every linear market (perpetuals and dated futures; expired ones are left out)."""
        return self._get(
            "/perps/markets", lambda d: models.items(d, models.Market.parse, "markets")
        )

    def orderbook(self, market_id: str, depth: int | None = None) -> models.OrderBook:
        return self._get(
            f"/perps/orderbook/{_segment(market_id)}",
            models.OrderBook.parse,
            params={"depth": depth},
        )

    def market_stats(self, market_id: str) -> models.MarketStats:
        return self._get(
            "/perps/market-stats",
            lambda d: models.MarketStats.parse(d, market_id),
            params={"marketId": market_id},
        )

    def ohlc(
        self, symbol: str, resolution: str, start: datetime, end: datetime
    ) -> list[models.Candle]:
        params = {
            "symbol": symbol,
            "resolution": resolution,
            "from": int(start.timestamp()),
            "to": int(end.timestamp()),
        }
        return self._get("/perps/ohlc", models.parse_ohlc, params=params)

    def fees(self) -> list[models.FeeTier]:
        return self._get("/perps/fees", lambda d: models.items(d, models.FeeTier.parse, "fees"))

    def insurance_fund(self) -> models.InsuranceFund:
        return self._get("/perps/insurance-fund", models.InsuranceFund.parse)

    # -- trading --------------------------------------------------------------------------------

    def place_order(
        self,
        market_id: str,
        side: str,
        quantity: Decimal | str,
        *,
        order_type: str = "limit",
        price: Decimal | str | None = None,
        time_in_force: str | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        margin_mode: str | None = None,
        client_order_id: str | None = None,
        stop_price: Decimal | str | None = None,
        take_profit_price: Decimal | str | None = None,
        stop_loss_price: Decimal | str | None = None,
    ) -> models.PlaceResult:
        """Place an order (session). Never repeated: on a timeout, look it up by
        ``client_order_id``; a 409 raises :class:`DuplicateOrderError` (already applied)."""
        body = _order_body(
            market_id,
            side,
            quantity,
            order_type,
            price,
            time_in_force,
            post_only,
            reduce_only,
            margin_mode,
            client_order_id,
            stop_price,
            take_profit_price,
            stop_loss_price,
        )
        return self._post(
            "/perps/orders", models.PlaceResult.parse, body, tier="session", order_path=True
        )

    def preview_order(
        self,
        market_id: str,
        side: str,
        quantity: Decimal | str,
        *,
        order_type: str = "limit",
        price: Decimal | str | None = None,
        time_in_force: str | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        margin_mode: str | None = None,
    ) -> models.Preview:
        """OCX's own dry run: margin required, fee, approval; no side effects."""
        body = _order_body(
            market_id,
            side,
            quantity,
            order_type,
            price,
            time_in_force,
            post_only,
            reduce_only,
            margin_mode,
            None,
            None,
            None,
            None,
        )
        return self._post("/perps/orders/preview", models.Preview.parse, body, tier="trade")

    def cancel_order(self, order_id: str) -> models.Order:
        return self._post(
            f"/perps/orders/{_segment(order_id)}/cancel",
            models.Order.parse,
            {},
            tier="session",
            order_path=True,
        )

    def cancel_all(
        self,
        *,
        market_id: str | None = None,
        quote_id: str | None = None,
        client_order_id: str | None = None,
        margin_mode: str | None = None,
    ) -> models.CancelAllResult:
        """Cancel every order, or those in the scope given (the kill switch; a trade key will
        do, so it works after the session has expired)."""
        scope = {
            "marketId": market_id,
            "quoteId": quote_id,
            "clientOrderId": client_order_id,
            "marginMode": margin_mode,
        }
        body = {k: v for k, v in scope.items() if v is not None}
        return self._post(
            "/perps/orders/cancel-all",
            models.CancelAllResult.parse,
            body,
            tier="trade",
            order_path=True,
        )

    def close_position(
        self,
        market_id: str,
        *,
        quantity: Decimal | str | None = None,
        margin_mode: str | None = None,
        order_type: str | None = None,
        price: Decimal | str | None = None,
        time_in_force: str | None = None,
    ) -> models.PlaceResult:
        """Close all (``quantity`` omitted) or part of a position (session)."""
        body: dict[str, Any] = {"marketId": market_id}
        optional = {
            "quantity": quantity,
            "marginMode": margin_mode,
            "orderType": order_type,
            "price": price,
            "timeInForce": time_in_force,
        }
        for key, value in optional.items():
            if value is not None:
                body[key] = _plain(value) if key in ("quantity", "price") else value
        return self._post(
            "/perps/positions/close",
            models.PlaceResult.parse,
            body,
            tier="session",
            order_path=True,
        )

    def quote(
        self,
        market_id: str,
        *,
        bid: dict[str, Any] | None = None,
        ask: dict[str, Any] | None = None,
        quote_id: str | None = None,
    ) -> models.QuoteResult:
        """A two-sided quote (``{price, quantity, clientOrderId?}`` per side; session)."""
        body: dict[str, Any] = {"marketId": market_id}
        for name, side in (("bid", bid), ("ask", ask)):
            if side is not None:
                body[name] = {
                    k: _plain(v) if k in ("price", "quantity") else v for k, v in side.items()
                }
        if quote_id:
            body["quoteId"] = quote_id
        return self._post(
            "/perps/quotes", models.QuoteResult.parse, body, tier="session", order_path=True
        )

    def bulk_quotes(
        self,
        market_id: str,
        quotes: list[dict[str, Any]],
        *,
        quote_id: str | None = None,
        cancel_all: bool = False,
    ) -> models.QuoteResult:
        """Replace a ladder atomically (a trade key will do). Counts as one order-path call."""
        body: dict[str, Any] = {
            "marketId": market_id,
            "cancelAll": cancel_all,
            "quotes": [
                {k: _plain(v) if k in ("price", "quantity") else v for k, v in q.items()}
                for q in quotes
            ],
        }
        if quote_id:
            body["quoteId"] = quote_id
        return self._post(
            "/perps/quotes/bulk", models.QuoteResult.parse, body, tier="trade", order_path=True
        )

    # -- account reads --------------------------------------------------------------------------

    def orders(
        self,
        *,
        market_id: str | None = None,
        margin_mode: str | None = None,
        limit: int | None = None,
        before: str | None = None,
    ) -> list[models.Order]:
        params = {
            "marketId": market_id,
            "marginMode": margin_mode,
            "limit": limit,
            "before": before,
        }
        return self._get(
            "/perps/orders",
            lambda d: models.items(d, models.Order.parse, "orders"),
            tier="read",
            params=params,
        )

    def iter_orders(
        self, *, market_id: str | None = None, page_size: int = 200
    ) -> Iterator[models.Order]:
        """Every order, newest first, page by page (as :meth:`iter_fills`)."""
        return _pages(
            lambda before: self.orders(market_id=market_id, limit=page_size, before=before),
            page_size,
        )

    def open_orders(
        self, *, market_id: str | None = None, limit: int | None = None
    ) -> list[models.Order]:
        return self._get(
            "/perps/orders/open",
            lambda d: models.items(d, models.Order.parse, "orders"),
            tier="read",
            params={"marketId": market_id, "limit": limit},
        )

    def positions(self, *, market_id: str | None = None) -> list[models.Position]:
        return self._get(
            "/perps/positions",
            lambda d: models.items(d, models.Position.parse, "positions"),
            tier="read",
            params={"marketId": market_id},
        )

    def fills(
        self, *, market_id: str | None = None, limit: int | None = None, before: str | None = None
    ) -> list[models.Fill]:
        """One page of the user's fills, newest first (``before``: an exclusive fill id)."""
        params = {"marketId": market_id, "limit": limit, "before": before}
        return self._get(
            "/perps/trades",
            lambda d: models.items(d, models.Fill.parse, "fills"),
            tier="read",
            params=params,
        )

    def iter_fills(
        self, *, market_id: str | None = None, page_size: int = 200
    ) -> Iterator[models.Fill]:
        """Every fill, newest first, page by page; stops on a short page, or on a page of ids
        already seen (a server that ignores ``before``)."""
        return _pages(
            lambda before: self.fills(market_id=market_id, limit=page_size, before=before),
            page_size,
        )

    def perps_balances(self) -> models.PerpsBalance:
        return self._get("/perps/balances", models.PerpsBalance.parse, tier="read")

    def portfolio(self) -> dict[str, Any]:
        """``GET /portfolio/me`` as OCX sends it (its shape is not documented)."""
        data = self._request("GET", "/portfolio/me", tier="read")
        if not isinstance(data, dict):
            raise errors.BadResponseError("/portfolio/me: expected a JSON object")
        return data

    def portfolio_balances(self) -> models.PortfolioBalances:
        return self._get("/portfolio/balances", models.PortfolioBalances.parse, tier="read")

    # -- wallet ---------------------------------------------------------------------------------

    def wallet_balance(self) -> models.WalletBalance:
        return self._get("/wallet/balance", models.WalletBalance.parse, tier="read")

    def wallet_assets(self) -> list[models.AssetBalance]:
        return self._get(
            "/wallet/assets",
            lambda d: models.items(d, models.AssetBalance.parse, "assets"),
            tier="read",
        )

    def transfer(
        self, source: str, destination: str, amount: Decimal | str
    ) -> models.BucketBalances:
        """Move funds between two of the buckets (atomic, double-entry at OCX; session)."""
        if source not in models.BUCKETS or destination not in models.BUCKETS:
            raise ValueError(f"buckets are {', '.join(models.BUCKETS)}")
        if source == destination:
            raise ValueError("a transfer needs two distinct buckets")
        if Decimal(_plain(amount)) <= 0:
            raise ValueError("the amount must be positive")
        body = {"from": source, "to": destination, "amount": _plain(amount)}
        return self._post("/wallet/transfer", models.BucketBalances.parse, body, tier="session")

    def wallet_history(self, *, limit: int | None = None) -> list[models.LedgerEntry]:
        return self._get(
            "/wallet/history",
            lambda d: models.items(d, models.LedgerEntry.parse, "history"),
            tier="read",
            params={"limit": limit},
        )

    def settlements(
        self, *, kind: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[models.Settlement]:
        params = {"kind": kind, "status": status, "limit": limit}
        return self._get(
            "/wallet/settlements",
            lambda d: models.items(d, models.Settlement.parse, "settlements"),
            tier="read",
            params=params,
        )

    def settlement(self, settlement_id: str) -> models.Settlement:
        return self._get(
            f"/wallet/settlements/{_segment(settlement_id)}", models.Settlement.parse, tier="read"
        )


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


ItemT = TypeVar("ItemT", bound=_Identified)


def _pages(fetch: Callable[[str | None], list[ItemT]], page_size: int) -> Iterator[ItemT]:
    """Newest first across pages (``before``: the last page's lowest id); stops on a short
    page, or on a page of ids already seen (a server that ignores ``before``)."""
    before: str | None = None
    seen: set[str] = set()
    while True:
        page = fetch(before)
        fresh = [item for item in page if item.id not in seen]
        yield from fresh
        if not fresh or len(page) < page_size:
            return
        seen.update(item.id for item in fresh)
        before = min(item.id for item in page)


def _segment(value: str) -> str:
    """An id placed in a path: refused if it could change the path."""
    if not value or any(c in value for c in "/?#%\\") or value in (".", ".."):
        raise ValueError("not a valid id")
    return value


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _dumps(body: Any) -> bytes:
    import json

    return json.dumps(body, separators=(",", ":")).encode()


def _order_body(
    market_id: str,
    side: str,
    quantity: Decimal | str,
    order_type: str,
    price: Decimal | str | None,
    time_in_force: str | None,
    post_only: bool,
    reduce_only: bool,
    margin_mode: str | None,
    client_order_id: str | None,
    stop_price: Decimal | str | None,
    take_profit: Decimal | str | None,
    stop_loss: Decimal | str | None,
) -> dict[str, Any]:
    if side not in ("buy", "sell"):
        raise ValueError("side must be buy or sell")
    if order_type not in ("limit", "market"):
        raise ValueError("type must be limit or market")
    if order_type == "limit" and price is None:
        raise ValueError("a limit order needs a price")
    if time_in_force is not None and time_in_force not in ("gtc", "ioc", "fok"):
        raise ValueError("time in force must be gtc, ioc or fok")
    body: dict[str, Any] = {
        "marketId": market_id,
        "side": side,
        "type": order_type,
        "quantity": _plain(quantity),
    }
    optional = {
        "price": price,
        "timeInForce": time_in_force,
        "marginMode": margin_mode,
        "clientOrderId": client_order_id,
        "stopPrice": stop_price,
        "takeProfitPrice": take_profit,
        "stopLossPrice": stop_loss,
    }
    for key, value in optional.items():
        if value is not None:
            body[key] = _plain(value) if key.endswith("rice") else value
    if post_only:
        body["postOnly"] = True
    if reduce_only:
        body["reduceOnly"] = True
    return body


def _session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        try:
            cookie.load(header)
        except http.cookies.CookieError:
            continue
        for name, morsel in cookie.items():
            if name.endswith("session") and morsel.value:
                return morsel.value
    return None
