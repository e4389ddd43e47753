"""Pure margin arithmetic (risk-metrics.md 3b/3c), exact Decimal, no state.

Notation: `s` = +1 long / -1 short, `q` = |qty|, `m` = mark, `r` = maintenance rate.

- position_value = q * m; entry_value = q * entry; initial_margin = entry_value / leverage
- upnl = s * (position_value - entry_value)
- maint_margin = position_value * r, r from the symbol's tier for position_value
- scope equity E: isolated = holding_margin + upnl; cross = cross_balance + cross_upnl
- health (StandX `mmr`) = E / MM; liquidation at <= 1
- liquidation price solves E(P) = MM(P). Isolated closed form:
  long (entry_value - holding_margin) / (q * (1 - r)),
  short (entry_value + holding_margin) / (q * (1 + r));
  for a cross position (everything else held still): m - s * (E - MM) / (q * (1 - s * r)).
- bankruptcy price: the same with r replaced by the taker fee (the closing fee is reserved).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from standx_sim.money import ONE, ZERO


def side_sign(qty: Decimal) -> int:
    return 1 if qty > 0 else -1


def upnl(qty: Decimal, entry_value: Decimal, mark: Decimal) -> Decimal:
    """Signed qty; entry_value is the absolute entry notional."""
    return side_sign(qty) * (abs(qty) * mark - entry_value)


def isolated_price_at(
    qty: Decimal, entry_value: Decimal, holding_margin: Decimal, rate: Decimal
) -> Decimal:
    """Price where holding_margin + upnl equals rate * position value (isolated closed form)."""
    q = abs(qty)
    if qty > 0:
        return (entry_value - holding_margin) / (q * (ONE - rate))
    return (entry_value + holding_margin) / (q * (ONE + rate))


def cross_price_at(
    qty: Decimal, mark: Decimal, equity: Decimal, maint: Decimal, rate: Decimal
) -> Decimal:
    """Price of this position at which the cross bucket's equity equals its requirement.

    `maint` is the bucket's requirement at the current mark, computed with `rate` for this
    position, so moving this position's price by dP changes E by s*q*dP and MM by q*dP*rate.
    """
    s = side_sign(qty)
    return mark - s * (equity - maint) / (abs(qty) * (ONE - s * rate))


def health(equity: Decimal, maint: Decimal) -> Decimal | None:
    if maint <= 0:
        return None
    return equity / maint


def display_price(value: Decimal, tick: Decimal) -> Decimal | None:
    """Round a computed price to the symbol's tick; None when no positive price exists."""
    if value <= ZERO:
        return None
    return value.quantize(tick, rounding=ROUND_HALF_UP)
