"""PerpEx client library: REST, WebSocket, rate budget, CLI. Imports nothing from Django.

PerpEx's reference (shared/reference/venue-perpex-api.txt) lists six REST routes, four channels,
a JWT bearer, 120 requests a minute per key, batches of 10, three error codes, a 30 s heartbeat
and a 1-30 s reconnect backoff, and no request or response body. Everything below is therefore
an assumption, taken once, here; ``perpex_sim`` serves exactly this, and the parsers accept the
likely variants (see ``models``). Change an assumption here, in the parser, and in the simulator.

Hosts and identity
    The documented base ``api.perpex.io/v1`` repeats the version of ``/api/v1/...`` and the
    product's own backend has been seen at ``api.perpex.co``: the API origin and the WebSocket
    URL are constructor parameters (settings ``PERPEX_API_URL``, default https://api.perpex.io,
    and ``PERPEX_WS_URL``, default wss://ws.perpex.io). Paths are exactly as listed.

The API key
    The dashboard's key *is* the bearer: ``Authorization: Bearer <JWT>``. We never verify it
    (only PerpEx holds the secret); we read its claims: ``exp`` (Unix seconds; absent, NaN,
    infinite or out-of-range values mean "no expiry known" and never fail), the account from
    ``sub`` / ``accountId`` / ``account``, permissions from ``perms`` / ``permissions`` /
    ``scope`` (list or space-separated; ``read``, ``trade``). Trade permission is proven by
    ``DELETE /api/v1/orders/<an id that cannot exist>``: 404 ``ORDER_NOT_FOUND`` means the key
    may trade, 403 that it is read-only. No key+secret exchange is known (none is built).

Envelopes and errors
    Successes are bare JSON; ``{"data": ...}`` (or ``result``) is unwrapped. Errors are
    ``{"error": {"code", "message"}}`` or ``{"code", "message"}`` (also ``{"error": "text"}``),
    with an HTTP status, or as a 200 body. ``INSUFFICIENT_MARGIN`` and ``INVALID_SYMBOL`` (400),
    ``ORDER_NOT_FOUND`` (404) map to their own classes whatever the status; otherwise 401, 403,
    404, 429 (``Retry-After`` in seconds) and 5xx map by status (``errors``). Decimals are JSON
    strings (numbers accepted); times are Unix milliseconds (seconds and ISO-8601 accepted).

Routes and bodies (camelCase)
    ``GET /api/v1/markets`` -> ``[{symbol, baseAsset, quoteAsset, settleAsset, status,
    tickSize, lotSize, minQty, maxLeverage, maintenanceMarginRate?, makerFee, takerFee,
    markPrice, indexPrice, lastPrice, fundingRate (per hour), fundingInterval, nextFundingTime,
    lastFundingTime?, lastFundingRate?, lastFundingPrice?, openInterest, volume24h}]``. The
    ``lastFunding*`` fields are the last hourly settlement (its time, rate and the mark it was
    paid at): PerpEx lists no funding payments, so they are rebuilt from these and the fills'
    position size (payment = -size * mark * rate, half up to 6 decimals); a settlement no poll
    saw (markets unread for over an hour) is not rebuilt. Symbols are opaque (``BTC-USD``; a
    venue on Hyperliquid may say ``BTC``). Without ``maintenanceMarginRate`` it is derived:
    1 / (2 * maxLeverage).
    ``GET /api/v1/orderbook/:symbol?depth=N`` -> ``{symbol, bids, asks, markPrice?, time}``,
    levels ``[price, size]`` (or ``{price, size}``).
    ``GET /api/v1/account`` -> ``{accountId, balances: [{asset, total, available, locked}],
    margin: {accountValue, balance, unrealizedPnl, initialMargin, maintenanceMargin, available,
    crossAccountValue, crossMaintenanceMargin, crossMarginRatio}, positions: [{symbol, side
    (long/short) + size, or a signed size, entryPrice, markPrice, unrealizedPnl, realizedPnl,
    leverage, marginMode, margin, maintenanceMargin, liquidationPrice, marginRatio}]}``.
    Margin ratio = maintenance margin / equity (Hyperliquid's sense): liquidation at 1.
    ``POST /api/v1/orders`` ``{symbol, side: buy|sell, type: limit|market|stop, quantity,
    price?, stopPrice?, timeInForce?: gtc|ioc, reduceOnly?, clientOrderId?, leverage?,
    marginMode?: cross|isolated}`` -> the order ``{id (text), clientOrderId, symbol, side, type,
    quantity, price, stopPrice, timeInForce, reduceOnly, status (open, untriggered, filled,
    canceled, rejected), filledQuantity, averagePrice, leverage, marginMode, createdAt,
    updatedAt}``. A stop with a price is a stop-limit. Leverage and margin mode travel with the
    order (no leverage route exists) and must match an open position.
    ``POST /api/v1/orders/batch`` ``{orders: [...]}`` (1 to 10; more is refused here before it is
    sent) -> ``{results: [{index, status: "ok", order} | {index, status: "error", error: {code,
    message}}]}``, HTTP 200 even when some fail: each order stands alone (``BatchResult``).
    ``DELETE /api/v1/orders/:id`` -> the cancelled order (an empty answer is accepted).
    ``GET /api/v1/trades?symbol&limit&cursor&startTime&endTime`` -> ``{data: [fill],
    nextCursor}``, newest first; fill ``{id, orderId, clientOrderId, symbol, side, price,
    quantity, fee, feeAsset, realizedPnl, liquidity, liquidation, time}``. The cursor is
    opaque; without one, ``page`` / ``totalPages`` are followed; a fill without an id gets one
    hashed from its order, time, price and quantity. Paging stops at a repeated cursor.
    Not in the reference and only tried: ``GET /api/v1/orders?status=open`` (None when the
    venue answers 404 without a code of its own). Absent, so emulated elsewhere: order status,
    leverage and margin-mode routes, funding payments (rebuilt, see the markets), REST candles,
    close, cancel-all, preview.

WebSocket (``stream``)
    Client frames: ``{"op": "auth", "token"}`` (answered ``{"type": "auth", ...}`` or an error);
    ``{"op": "subscribe"|"unsubscribe", "channel", "symbol"?, "interval"? (candles: 1m, 5m, 15m,
    1h, 4h, 1d), "depth"? (orderbook)}``; ``{"op": "pong"}`` in answer to ``{"type": "ping"}``.
    Data frames ``{"channel", "symbol"?, "interval"?, "snapshot"?, "data"}``; control frames
    carry ``type`` (subscribed, unsubscribed, pong, auth); errors ``{"type": "error", "code",
    "message"}``. ``trades``: a list of ``{id, price, size, side, time}``. ``orderbook``: a full
    snapshot per update, with ``markPrice`` (our mark feed reads it; without one, the mid).
    ``candles``: first a snapshot list of recent candles (our only candle history), then the
    forming candle ``{time, open, high, low, close, volume}``. ``positions`` (after auth):
    ``{event: snapshot, positions}``, ``{event: update, position}``, ``{event:
    liquidation_warning, symbol, marginMode, marginRatio, markPrice, liquidationPrice,
    message}`` and ``{event: liquidation, symbol, size, price, message}``. At most 10
    subscriptions per connection. Heartbeat: the server pings after 30 s without a message; we
    answer, and reconnect after 65 s without any frame, with backoff 1 s doubling to 30 s.

Rate budget (``ratelimit``)
    120 requests a minute per key, shared by all processes through Redis with the same limiter
    StandX uses; a batch counts once. GETs honour ``Retry-After`` on a 429 and retry; orders
    and cancels are never repeated.
"""

from __future__ import annotations

from perpex.errors import PerpExError
from perpex.keys import ApiKey
from perpex.rest import OrderRequest, PerpExClient
from perpex.stream import PerpExStream

__all__ = ["ApiKey", "OrderRequest", "PerpExClient", "PerpExError", "PerpExStream"]
