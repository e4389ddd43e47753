"""The simulator's records: accounts with their orders, positions and fills."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ocx_sim.money import ZERO


@dataclass
class Order:
    id: str
    user_id: str
    market_id: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None
    time_in_force: str
    post_only: bool
    reduce_only: bool
    margin_mode: str
    client_order_id: str | None
    created_at: datetime
    updated_at: datetime
    stop_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    stop_loss_price: Decimal | None = None
    trigger_above: bool | None = None  # for untriggered orders: fire when mark >= / <= stop
    quote_id: str | None = None
    status: str = "open"  # open, untriggered, partially_filled, filled, canceled, rejected
    filled: Decimal = ZERO
    filled_value: Decimal = ZERO
    reason: str | None = None

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def live(self) -> bool:
        return self.status in ("open", "untriggered", "partially_filled")

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1


@dataclass
class Position:
    id: str
    user_id: str
    market_id: str
    margin_mode: str
    created_at: datetime
    updated_at: datetime
    qty: Decimal = ZERO  # signed
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    status: str = "open"  # open, closed, liquidated, settled


@dataclass
class Fill:
    id: str
    user_id: str
    order_id: str
    client_order_id: str | None
    market_id: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    liquidity: str  # maker or taker
    realized_pnl: Decimal
    created_at: datetime


@dataclass
class ApiKey:
    id: str
    user_id: str
    name: str
    scope: str
    secret_hash: str
    allowed_ips: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    last_used_ip: str | None = None


@dataclass
class Settlement:
    id: str
    kind: str  # deposit or withdraw
    amount: Decimal
    status: str
    created_at: datetime
    updated_at: datetime
    tx_hash: str | None = None


@dataclass
class Account:
    user_id: str
    address: str
    created_at: datetime
    orders: dict[str, Order] = field(default_factory=dict)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    closed_positions: list[Position] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    settlements: dict[str, Settlement] = field(default_factory=dict)
    withdraw_calls: list[dict[str, Any]] = field(default_factory=list)
    order_times: deque[float] = field(default_factory=deque)  # the order path's rate window
    onchain_deposits: Decimal = ZERO
    liquidations: int = 0

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.qty != 0]
