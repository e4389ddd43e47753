"""OCX client library: SIWE sign-in, sessions and API keys, perpetuals and dated futures, the
account, the wallet's buckets, the private SSE streams, the order-path budget, a CLI.

Imports nothing from Django or the apps; the venue adapter (``venues.ocx``) is its only user in
the product. Entry points: :class:`ocx.rest.OCXClient`, :mod:`ocx.auth`, :mod:`ocx.stream`.

Assumptions, taken where the reference (``shared/reference/venue-ocx-api.txt``) and OCX's
public docs (docs.ocx.global, ocx.gitbook.io) are silent or disagree; written here once:

1. **Sign-in.** ``POST /auth/nonce {walletAddress}`` → ``{nonce}``; an EIP-4361 message naming
   the API's host as ``domain``, its origin as ``URI``, chain id 84532 (the gitbook's example;
   a setting for the real venue), a 10-minute expiration; ``POST /auth/siwe {message,
   signature}`` → ``{userId, walletAddress}`` and the JWT in the ``astra_session`` cookie. The
   session lasts 7 days (its ``exp``); it is sent back as ``Authorization: Bearer``.
2. **Credentials per call.** Single orders, cancelling one, closing, transfers and key
   management need the session. Preview, cancel-all and bulk quotes take a ``trade`` key (the
   kill switch then outlives the session). Account and wallet reads take any key (the
   overview's "read: market data and account reads") and fall back to the session if OCX
   refuses the key. A key never manages keys.
3. **Shapes the reference leaves out.** Positions: ``{id, marketId, side, quantity | size,
   entryPrice, markPrice, unrealizedPnl, realizedPnl, liquidationPrice, leverage, marginMode,
   status}``; ``/perps/balances``: ``{equity, balance, unrealizedPnl, initialMargin,
   maintenanceMargin, available}``; both parsed tolerantly. A dated future's expiry is its
   ``expiresAt`` when sent, else the date in its id (``BTC-USDC-2026-06-26``) at 00:00 UTC.
4. **Pagination.** ``GET /perps/trades`` and ``GET /perps/orders`` list newest first and take
   ``limit`` and ``before`` (an exclusive id; ULIDs sort in time order).
5. **Errors.** Either documented body (``{error: CODE, message}`` or ``{error: family, code,
   message}``); 409 = already applied (a duplicate ``clientOrderId``), 422 = a business
   rejection with its code, 429 with ``retryAfterMs`` (or ``Retry-After``).
6. **Order path.** 120 requests a minute per user, counted client-side as a bucket of 30
   refilled at 1.5/s (:mod:`ocx.ratelimit`), so no rolling minute exceeds 120.
7. **Streams.** Envelopes ``{eventId, eventType, eventSeq, engineTs, sourceTs, payload}``; a
   snapshot, then deltas ``{trades, positions: {upserts, removedIds}, orders: {...}}``.
8. **Never withdraw.** A session could ``POST /wallet/withdraw``; this library has no call for
   it and refuses the path if asked (``FORBIDDEN_PATHS`` in :mod:`ocx.rest`).
"""

from __future__ import annotations

from ocx.auth import ApiKey, Session, SiweParams
from ocx.errors import OCXError
from ocx.rest import OCXClient

__all__ = ["ApiKey", "OCXClient", "OCXError", "Session", "SiweParams"]
