"""What the venue clients' command lines share (``python -m standx``, ``perpex``, ``ocx``):
results printed as JSON, positive decimal arguments, and one way to end: the result on stdout
with status 0, or the client's error as JSON on stderr with status 1 (never a traceback, and
never a secret: client errors are redacted when raised)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from exchange_common.errors import ClientError


def to_json(value: Any) -> Any:
    """A result as JSON-ready data: Decimals (without exponents) and times become strings,
    fields hidden from the repr (secrets) are left out."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value) if f.repr}
    return value


def print_event(event: Any) -> None:
    """One stream event as a line of JSON, flushed (the reader may be a pipe)."""
    print(json.dumps({"event": type(event).__name__, **to_json(event)}), flush=True)


def positive_decimal(text: str) -> Decimal:
    """An ``argparse`` type: a finite decimal above zero (prices, sizes, amounts)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def run(
    parser: argparse.ArgumentParser,
    command: Callable[[argparse.Namespace], Any],
    argv: Sequence[str] | None = None,
    *,
    refused: tuple[type[Exception], ...] = (ClientError,),
) -> int:
    """Parse ``argv``, run ``command`` and print its result; the process's exit status."""
    args = parser.parse_args(argv)
    try:
        result = command(args)
    except refused as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if result is not None:
        print(json.dumps(to_json(result), indent=2, sort_keys=True))
    return 0
