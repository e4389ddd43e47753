"""``python -m standx``: the client on the command line, printing JSON.

Configured by STANDX_PERPS_URL, STANDX_AUTH_URL (defaults: the real hosts), STANDX_WS_URL
(default: derived from the perps URL), STANDX_TOKEN, STANDX_SIGNING_KEY, and STANDX_WALLET_KEY
for ``login``. Errors go to stderr as JSON with exit status 1; secrets are never printed except
the token and key that ``login`` was asked to produce.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from typing import Any

from exchange_common.cli import positive_decimal, print_event, run
from standx import errors
from standx.auth import AuthClient, login_with_wallet_key
from standx.keys import seed_base58
from standx.rest import (
    DEFAULT_AUTH_URL,
    DEFAULT_PERPS_URL,
    Credentials,
    Endpoints,
    StandXClient,
)
from standx.stream import PUBLIC_CHANNELS, USER_CHANNELS, MarketStream, StreamMessage


def _endpoints() -> Endpoints:
    perps = os.environ.get("STANDX_PERPS_URL", DEFAULT_PERPS_URL).rstrip("/")
    auth = os.environ.get("STANDX_AUTH_URL", DEFAULT_AUTH_URL).rstrip("/")
    derived = Endpoints.for_simulator(perps)
    return Endpoints(
        perps_url=perps,
        auth_url=auth,
        ws_url=os.environ.get("STANDX_WS_URL", derived.ws_url),
        ws_api_url=os.environ.get("STANDX_WS_API_URL", derived.ws_api_url),
    )


def _credentials(required: bool = True) -> Credentials | None:
    token = os.environ.get("STANDX_TOKEN", "").strip()
    if not token:
        if required:
            raise errors.AuthenticationError("set STANDX_TOKEN (and STANDX_SIGNING_KEY to trade)")
        return None
    return Credentials.from_strings(token, os.environ.get("STANDX_SIGNING_KEY"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m standx", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    login = sub.add_parser("login", help="sign in with STANDX_WALLET_KEY; prints token + key")
    login.add_argument("--chain", choices=("bsc", "solana"), required=True)
    login.add_argument("--expires-seconds", type=int, default=None)

    sub.add_parser("balance", help="the unified balance")
    positions = sub.add_parser("positions", help="open positions")
    positions.add_argument("--symbol")
    open_orders = sub.add_parser("open-orders", help="open orders")
    open_orders.add_argument("--symbol")
    trades = sub.add_parser("trades", help="the account's fills (one page)")
    trades.add_argument("--symbol")
    trades.add_argument("--limit", type=int, default=100)

    order = sub.add_parser("new-order", help="submit a signed order")
    order.add_argument("symbol")
    order.add_argument("side", choices=("buy", "sell"))
    order.add_argument("qty", type=positive_decimal)
    order.add_argument("--price", type=positive_decimal)
    order.add_argument("--type", dest="order_type", choices=("limit", "market"))
    order.add_argument("--tif", choices=("gtc", "ioc", "alo"), default=None)
    order.add_argument("--reduce-only", action="store_true")
    order.add_argument("--tp", type=positive_decimal)
    order.add_argument("--sl", type=positive_decimal)
    order.add_argument("--cl-ord-id")

    cancel = sub.add_parser("cancel-order", help="cancel one order")
    which = cancel.add_mutually_exclusive_group(required=True)
    which.add_argument("--order-id", type=int)
    which.add_argument("--cl-ord-id")

    stream = sub.add_parser("stream", help="print stream messages, one JSON object per line")
    stream.add_argument("channel", choices=(*PUBLIC_CHANNELS, *USER_CHANNELS))
    stream.add_argument("--symbol")
    stream.add_argument("--count", type=int, default=0, help="stop after N messages")
    return parser


def _run(args: argparse.Namespace) -> Any:
    endpoints = _endpoints()
    if args.command == "login":
        wallet_key = os.environ.get("STANDX_WALLET_KEY", "").strip()
        if not wallet_key:
            raise errors.LoginError("set STANDX_WALLET_KEY to the wallet's private key")
        with AuthClient(endpoints) as auth:
            session = login_with_wallet_key(
                auth, chain=args.chain, wallet_key=wallet_key, expires_seconds=args.expires_seconds
            )
        creds = session.credentials
        assert creds.signing_key is not None  # a wallet login always has its key
        return {
            "address": session.address,
            "chain": session.chain,
            "alias": session.alias,
            "token": creds.token,
            "signing_key": seed_base58(creds.signing_key),
            "public_key": creds.public_key,
            "expires_at": creds.expires_at,
        }
    if args.command == "stream":
        return asyncio.run(_stream(args, endpoints))

    with StandXClient(_credentials(), endpoints=endpoints) as client:
        if args.command == "balance":
            return client.query_balance()
        if args.command == "positions":
            return client.query_positions(symbol=args.symbol)
        if args.command == "open-orders":
            return list(client.query_open_orders(symbol=args.symbol).result)
        if args.command == "trades":
            return list(client.query_trades(symbol=args.symbol, limit=args.limit).result)
        if args.command == "new-order":
            order_type = args.order_type or ("limit" if args.price is not None else "market")
            if order_type == "limit" and args.price is None:
                raise errors.BadRequestError("a limit order needs --price")
            tif = args.tif or ("gtc" if order_type == "limit" else "ioc")
            return client.new_order(
                symbol=args.symbol,
                side=args.side,
                order_type=order_type,
                qty=args.qty,
                price=args.price,
                time_in_force=tif,
                reduce_only=args.reduce_only,
                tp_price=args.tp,
                sl_price=args.sl,
                cl_ord_id=args.cl_ord_id,
            )
        if args.command == "cancel-order":
            return client.cancel_order(order_id=args.order_id, cl_ord_id=args.cl_ord_id)
    raise AssertionError(args.command)  # pragma: no cover - argparse limits the choices


async def _stream(args: argparse.Namespace, endpoints: Endpoints) -> None:
    user = args.channel in USER_CHANNELS
    stream = MarketStream(
        endpoints.ws_url,
        credentials=_credentials() if user else None,
        user_channels=(args.channel,) if user else (),
    )
    if not user:
        if not args.symbol:
            raise errors.BadRequestError(f"the {args.channel} channel needs --symbol")
        stream.subscribe(args.channel, args.symbol)
    seen = 0
    async for event in stream.events():
        if isinstance(event, StreamMessage) and event.channel != args.channel:
            continue
        print_event(event)
        seen += 1
        if args.count and seen >= args.count:
            await stream.close()
            return


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), _run, argv)
