"""``python -m ocx``: the client on the command line, printing JSON.

Configured by ``OCX_API_URL`` (the API's origin), ``OCX_API_KEY`` (an ``ocx_sk_`` key) and
``OCX_SESSION`` (a session JWT), or ``OCX_WALLET_KEY`` to sign in (``login`` prints the session;
other commands sign in on the fly when they need a session and none is set). Errors go to
stderr as JSON with exit status 1; no secret is printed except the session ``login`` was asked
for and a key's secret on ``keys create``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

from exchange_common.cli import positive_decimal, print_event, run
from ocx import errors
from ocx.auth import ApiKey, Session
from ocx.models import BUCKETS
from ocx.rest import OCXClient
from ocx.stream import Envelope, EventStream

DEFAULT_API_URL = "https://api.ocx.global"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ocx", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("login", help="sign in with OCX_WALLET_KEY; prints the session")
    sub.add_parser("markets", help="perpetuals and dated futures")
    stats = sub.add_parser("stats", help="a market's 24 h ticker")
    stats.add_argument("market")
    book = sub.add_parser("book", help="a market's order book")
    book.add_argument("market")
    book.add_argument("--depth", type=int, default=10)
    sub.add_parser("positions", help="open positions")
    sub.add_parser("open-orders", help="resting orders")
    fills = sub.add_parser("fills", help="fills, newest first")
    fills.add_argument("--limit", type=int, default=100)
    fills.add_argument("--before")
    sub.add_parser("balances", help="the perps bucket's margin, the wallet, the assets")
    for name in ("place", "preview"):
        order = sub.add_parser(name, help=f"{name} an order")
        order.add_argument("market")
        order.add_argument("side", choices=("buy", "sell"))
        order.add_argument("quantity", type=positive_decimal)
        order.add_argument("--price", type=positive_decimal)
        order.add_argument("--tif", choices=("gtc", "ioc", "fok"))
        order.add_argument("--post-only", action="store_true")
        order.add_argument("--reduce-only", action="store_true")
        order.add_argument("--margin-mode", choices=("cross", "isolated"))
        if name == "place":
            order.add_argument("--client-order-id")
    cancel = sub.add_parser("cancel", help="cancel one order")
    cancel.add_argument("order_id")
    cancel_all = sub.add_parser("cancel-all", help="cancel every order (or one market's)")
    cancel_all.add_argument("--market")
    close = sub.add_parser("close", help="close a position (all of it unless --quantity)")
    close.add_argument("market")
    close.add_argument("--quantity", type=positive_decimal)
    transfer = sub.add_parser("transfer", help="move funds between buckets")
    transfer.add_argument("source", choices=BUCKETS)
    transfer.add_argument("destination", choices=BUCKETS)
    transfer.add_argument("amount", type=positive_decimal)
    keys = sub.add_parser("keys", help="API keys (a session is needed)")
    keys.add_argument("action", choices=("list", "create", "revoke"))
    keys.add_argument("--name", default="standx-portfolio")
    keys.add_argument("--scope", choices=("read", "trade"), default="read")
    keys.add_argument("--id")
    stream = sub.add_parser("stream", help="the user stream, one JSON object per line")
    stream.add_argument("--count", type=int, default=0, help="stop after N envelopes")
    return parser


def _client() -> OCXClient:
    url = os.environ.get("OCX_API_URL", DEFAULT_API_URL)
    key = os.environ.get("OCX_API_KEY", "").strip()
    token = os.environ.get("OCX_SESSION", "").strip()
    return OCXClient(
        url, api_key=ApiKey(key) if key else None, session=Session(token) if token else None
    )


def _ensure_session(client: OCXClient) -> None:
    if client.session is not None:
        return
    wallet_key = os.environ.get("OCX_WALLET_KEY", "").strip()
    if not wallet_key:
        raise errors.AuthExpiredError("set OCX_SESSION, or OCX_WALLET_KEY to sign in")
    client.sign_in_with_wallet_key(wallet_key)


def _run(args: argparse.Namespace) -> Any:
    client = _client()
    command = args.command
    if command == "login":
        client.session = None
        _ensure_session(client)
        assert client.session is not None
        s = client.session
        return {
            "user_id": s.user_id,
            "wallet_address": s.wallet_address,
            "expires_at": s.expires_at,
            "session": s.token,
        }
    public = {
        "markets": client.markets,
        "stats": lambda: client.market_stats(args.market),
        "book": lambda: client.orderbook(args.market, args.depth),
    }
    if command in public:
        return public[command]()
    if command == "stream":
        return asyncio.run(_stream(client, args.count))
    reads: dict[str, Callable[[], Any]] = {
        "positions": client.positions,
        "open-orders": client.open_orders,
        "fills": lambda: client.fills(limit=args.limit, before=args.before),
        "balances": lambda: {
            "perps": client.perps_balances(),
            "wallet": client.wallet_balance(),
            "assets": client.wallet_assets(),
        },
        "preview": lambda: client.preview_order(
            args.market,
            args.side,
            args.quantity,
            order_type="limit" if args.price else "market",
            price=args.price,
            time_in_force=args.tif,
            post_only=args.post_only,
            reduce_only=args.reduce_only,
            margin_mode=args.margin_mode,
        ),
        "cancel-all": lambda: client.cancel_all(market_id=args.market),
    }
    if command in reads:
        if client.api_key is None:
            _ensure_session(client)
        return reads[command]()
    _ensure_session(client)
    if command == "place":
        return client.place_order(
            args.market,
            args.side,
            args.quantity,
            order_type="limit" if args.price else "market",
            price=args.price,
            time_in_force=args.tif,
            post_only=args.post_only,
            reduce_only=args.reduce_only,
            margin_mode=args.margin_mode,
            client_order_id=args.client_order_id,
        )
    if command == "cancel":
        return client.cancel_order(args.order_id)
    if command == "close":
        return client.close_position(args.market, quantity=args.quantity)
    if command == "transfer":
        return client.transfer(args.source, args.destination, args.amount)
    if args.action == "list":
        return client.list_api_keys()
    if args.action == "create":
        created = client.create_api_key(args.name, args.scope)
        return {"key": created.key, "secret": created.secret}
    if not args.id:
        raise errors.BadRequestError("keys revoke needs --id")
    client.revoke_api_key(args.id)
    return {"revoked": args.id}


async def _stream(client: OCXClient, count: int) -> None:
    if client.api_key is None:
        _ensure_session(client)
    stream = EventStream(client.base_url, session=client.session, api_key=client.api_key)
    seen = 0
    async for event in stream.events():
        print_event(event)
        if isinstance(event, Envelope):
            seen += 1
            if count and seen >= count:
                await stream.close()
                return


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), _run, argv, refused=(errors.OCXError, ValueError))
