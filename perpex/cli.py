"""``python -m perpex``: the client on the command line, printing JSON.

Configured by ``PERPEX_API_URL`` (default https://api.perpex.io), ``PERPEX_WS_URL`` (default
wss://ws.perpex.io) and ``PERPEX_API_KEY`` (the JWT). Errors go to stderr as JSON with exit
status 1; the key is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from exchange_common.cli import positive_decimal, print_event, run
from perpex import errors
from perpex.keys import ApiKey
from perpex.rest import DEFAULT_API_URL, DEFAULT_WS_URL, OrderRequest, PerpExClient
from perpex.stream import CHANNELS, PerpExStream, StreamMessage


def _api_key(required: bool = True) -> ApiKey | None:
    token = os.environ.get("PERPEX_API_KEY", "").strip()
    if not token:
        if required:
            raise errors.AuthenticationError("set PERPEX_API_KEY to the API key (a JWT)")
        return None
    return ApiKey(token)


def _order_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--price", type=positive_decimal)
    parser.add_argument("--stop-price", type=positive_decimal)
    parser.add_argument("--type", dest="order_type", choices=("limit", "market", "stop"))
    parser.add_argument("--tif", choices=("gtc", "ioc"))
    parser.add_argument("--reduce-only", action="store_true")
    parser.add_argument("--client-order-id")
    parser.add_argument("--leverage", type=int)
    parser.add_argument("--margin-mode", choices=("cross", "isolated"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m perpex", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("markets", help="listed markets")
    sub.add_parser("account", help="balances, margin and positions")
    sub.add_parser("positions", help="open positions")
    sub.add_parser("open-orders", help="open orders (if the venue serves them)")
    trades = sub.add_parser("trades", help="the account's fills, newest first")
    trades.add_argument("--symbol")
    trades.add_argument("--limit", type=int, default=100)
    trades.add_argument("--all", action="store_true", help="follow the pages to the end")
    order = sub.add_parser("new-order", help="place one order")
    order.add_argument("symbol")
    order.add_argument("side", choices=("buy", "sell"))
    order.add_argument("quantity", type=positive_decimal)
    _order_arguments(order)
    batch = sub.add_parser("batch", help="place up to 10 orders from a JSON file ('-': stdin)")
    batch.add_argument("file", help="a JSON array of order bodies as POST /api/v1/orders takes")
    cancel = sub.add_parser("cancel-order", help="cancel one order by id")
    cancel.add_argument("order_id")
    stream = sub.add_parser("stream", help="print channel messages, one JSON object per line")
    stream.add_argument("channel", choices=CHANNELS)
    stream.add_argument("--symbol")
    stream.add_argument("--interval")
    stream.add_argument("--count", type=int, default=0, help="stop after N messages")
    return parser


def _request(args: argparse.Namespace) -> OrderRequest:
    kind = args.order_type or ("stop" if args.stop_price else "limit" if args.price else "market")
    return OrderRequest(
        symbol=args.symbol,
        side=args.side,
        type=kind,
        quantity=args.quantity,
        price=args.price,
        stop_price=args.stop_price,
        time_in_force=args.tif,
        reduce_only=args.reduce_only,
        client_order_id=args.client_order_id,
        leverage=args.leverage,
        margin_mode=args.margin_mode,
    )


def _batch(path: str) -> list[OrderRequest]:
    try:
        raw = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
        bodies = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise errors.BadRequestError(f"cannot read the batch file: {exc}") from None
    if not isinstance(bodies, list) or not all(isinstance(b, dict) for b in bodies):
        raise errors.BadRequestError("the batch file must hold a JSON array of order objects")
    out = []
    for body in bodies:
        try:
            out.append(
                OrderRequest(
                    symbol=str(body.get("symbol")),
                    side=str(body.get("side")),
                    type=str(body.get("type", "limit")),
                    quantity=Decimal(str(body.get("quantity"))),
                    price=None if body.get("price") is None else Decimal(str(body["price"])),
                    stop_price=None
                    if body.get("stopPrice") is None
                    else Decimal(str(body["stopPrice"])),
                    time_in_force=body.get("timeInForce"),
                    reduce_only=bool(body.get("reduceOnly")),
                    client_order_id=body.get("clientOrderId"),
                    leverage=body.get("leverage"),
                    margin_mode=body.get("marginMode"),
                )
            )
        except (ValueError, InvalidOperation) as exc:
            raise errors.BadRequestError(f"order {len(out)} of the batch: {exc}") from None
    return out


def _run(args: argparse.Namespace) -> Any:
    api_url = os.environ.get("PERPEX_API_URL", DEFAULT_API_URL)
    if args.command == "stream":
        return asyncio.run(_stream(args, os.environ.get("PERPEX_WS_URL", DEFAULT_WS_URL)))
    with PerpExClient(_api_key(args.command != "markets"), api_url=api_url) as client:
        if args.command == "markets":
            return client.markets()
        if args.command == "account":
            return client.account()
        if args.command == "positions":
            return list(client.account().positions)
        if args.command == "open-orders":
            return client.open_orders()
        if args.command == "trades":
            if args.all:
                return list(client.iter_trades(page_size=args.limit, symbol=args.symbol))
            return client.trades(symbol=args.symbol, limit=args.limit)
        if args.command == "new-order":
            try:
                request = _request(args)
            except ValueError as exc:
                raise errors.BadRequestError(str(exc)) from None
            return client.place_order(request)
        if args.command == "batch":
            return client.place_batch(_batch(args.file))
        if args.command == "cancel-order":
            return client.cancel_order(args.order_id)
    raise AssertionError(args.command)  # pragma: no cover - argparse limits the choices


async def _stream(args: argparse.Namespace, ws_url: str) -> None:
    stream = PerpExStream(ws_url, api_key=_api_key(args.channel == "positions"))
    try:
        stream.subscribe(args.channel, args.symbol, interval=args.interval)
    except ValueError as exc:
        raise errors.BadRequestError(str(exc)) from None
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
